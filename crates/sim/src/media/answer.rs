//! The answer path (docs/media-blob.md, "The answer path"): the processor POSTs its answer as
//! `application/json` to the offer's `mpUri` and expects `204 No Content`. Any other `2xx` is
//! taken as accepted too (mediabot's own endpoint, `crates/bot`, answers `200 OK`).

use std::time::Duration;

use http::StatusCode;

/// Why the answer did not get through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The bot's endpoint answered with something other than `2xx`, and retrying would not
    /// change that (`400`, `409`, `413`, `415`…).
    #[error("mpUri refused the answer: {status} {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The start of the response body (the bot's error text).
        body: String,
    },
    /// The endpoint could not be reached, or kept answering `404`/`502`/`503`, for every attempt.
    #[error("mpUri unreachable after {attempts} attempts: {last}")]
    Unreachable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    pub(crate) attempts: u32,
    pub(crate) interval: Duration,
}

/// POSTs `answer` to `mp_uri`. Retries while the endpoint is not up yet (connection refused,
/// timeout) or does not know the session yet (`404`: the bot may still be registering its
/// pending offer) or is briefly unavailable (`502`, `503`).
pub(crate) async fn post_answer(
    client: &reqwest::Client,
    mp_uri: &str,
    answer: String,
    retry: Retry,
) -> Result<(), AnswerError> {
    let attempts = retry.attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        let sent = client
            .post(mp_uri)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(answer.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response)
                if matches!(
                    response.status(),
                    StatusCode::NOT_FOUND
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                ) =>
            {
                last = format!("HTTP {}", response.status().as_u16());
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                return Err(AnswerError::Refused {
                    status,
                    body: body.chars().take(512).collect(),
                });
            }
            Err(error) => last = error.to_string(),
        }
        if attempt < attempts {
            tokio::time::sleep(retry.interval).await;
        }
    }
    Err(AnswerError::Unreachable { attempts, last })
}
