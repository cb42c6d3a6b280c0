//! Graph callback bodies (`commsNotifications`) on arbitrary bytes: never panic, and the call id
//! helper never panics on what parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediabot_signaling::models::CommsNotifications;

fuzz_target!(|data: &[u8]| {
    if let Ok(notifications) = serde_json::from_slice::<CommsNotifications>(data) {
        for n in &notifications.value {
            let _ = n.call_id();
        }
    }
});
