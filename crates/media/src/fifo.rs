//! A fixed-capacity sample queue that remembers what kind of audio each stretch of samples is
//! (decoded, concealed, FEC-rebuilt, silence), so a 20 ms frame cut from it can carry the right
//! flags even when packets are 10 or 60 ms long.

/// What kind of audio a run of samples is. A small bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentFlags(u8);

impl SegmentFlags {
    /// Decoded from a packet that arrived in time.
    pub const NONE: SegmentFlags = SegmentFlags(0);
    /// DTX, comfort noise or a pause: digital silence.
    pub const SILENCE: SegmentFlags = SegmentFlags(1);
    /// Synthesised by packet-loss concealment.
    pub const CONCEALED: SegmentFlags = SegmentFlags(1 << 1);
    /// Rebuilt from in-band FEC.
    pub const FEC: SegmentFlags = SegmentFlags(1 << 2);
    /// Concealment inserted to grow the jitter buffer.
    pub const STRETCHED: SegmentFlags = SegmentFlags(1 << 3);

    /// Whether all flags of `other` are set.
    pub fn contains(self, other: SegmentFlags) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// Union of two sets.
    pub fn union(self, other: SegmentFlags) -> SegmentFlags {
        SegmentFlags(self.0 | other.0)
    }

    /// Intersection of two sets.
    pub fn intersection(self, other: SegmentFlags) -> SegmentFlags {
        SegmentFlags(self.0 & other.0)
    }
}

const MAX_SEGMENTS: usize = 64;

/// Ring buffer of interleaved i16 samples with per-run flags. Sized once; never allocates after.
pub struct SampleFifo {
    buf: Box<[i16]>,
    head: usize,
    len: usize,
    /// Runs of samples with one flag set each: (samples, flags), oldest first.
    segments: [(u32, SegmentFlags); MAX_SEGMENTS],
    seg_head: usize,
    seg_len: usize,
}

impl SampleFifo {
    /// A queue that holds up to `capacity` samples.
    pub fn new(capacity: usize) -> SampleFifo {
        SampleFifo {
            buf: vec![0; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
            segments: [(0, SegmentFlags::NONE); MAX_SEGMENTS],
            seg_head: 0,
            seg_len: 0,
        }
    }

    /// Samples queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.seg_head = 0;
        self.seg_len = 0;
    }

    /// Appends samples of one kind. Returns false (and queues nothing) if they do not fit.
    pub fn push(&mut self, samples: &[i16], flags: SegmentFlags) -> bool {
        if samples.is_empty() {
            return true;
        }
        let cap = self.buf.len();
        if self.len + samples.len() > cap {
            return false;
        }
        // Merge with the newest run when the kind is the same, else open a new run.
        let newest = (self.seg_head + self.seg_len + MAX_SEGMENTS - 1) % MAX_SEGMENTS;
        if self.seg_len > 0 && self.segments[newest].1 == flags {
            self.segments[newest].0 += samples.len() as u32;
        } else if self.seg_len < MAX_SEGMENTS {
            let at = (self.seg_head + self.seg_len) % MAX_SEGMENTS;
            self.segments[at] = (samples.len() as u32, flags);
            self.seg_len += 1;
        } else {
            // Out of run slots: fold into the newest run (flags become the union).
            self.segments[newest].0 += samples.len() as u32;
            self.segments[newest].1 = self.segments[newest].1.union(flags);
        }
        let tail = (self.head + self.len) % cap;
        let first = samples.len().min(cap - tail);
        self.buf[tail..tail + first].copy_from_slice(&samples[..first]);
        self.buf[..samples.len() - first].copy_from_slice(&samples[first..]);
        self.len += samples.len();
        true
    }

    /// Fills `out` from the front of the queue (zeros past what is queued) and returns the union of
    /// the flags of the runs it took from, plus `all_silence` semantics: SILENCE is only kept if
    /// every run taken was silence.
    pub fn pop_into(&mut self, out: &mut [i16]) -> SegmentFlags {
        let cap = self.buf.len();
        let take = out.len().min(self.len);
        let first = take.min(cap - self.head);
        out[..first].copy_from_slice(&self.buf[self.head..self.head + first]);
        out[first..take].copy_from_slice(&self.buf[..take - first]);
        out[take..].fill(0);
        self.head = (self.head + take) % cap;
        self.len -= take;

        let mut any = SegmentFlags::NONE;
        let mut all = SegmentFlags(u8::MAX);
        let mut left = take as u32;
        while left > 0 && self.seg_len > 0 {
            let seg = &mut self.segments[self.seg_head];
            let used = seg.0.min(left);
            any = any.union(seg.1);
            all = all.intersection(seg.1);
            seg.0 -= used;
            left -= used;
            if seg.0 == 0 {
                self.seg_head = (self.seg_head + 1) % MAX_SEGMENTS;
                self.seg_len -= 1;
            }
        }
        if take < out.len() {
            all = SegmentFlags::NONE;
        }
        let silence_everywhere = all.contains(SegmentFlags::SILENCE);
        let mut flags = SegmentFlags(any.0 & !SegmentFlags::SILENCE.0);
        if silence_everywhere {
            flags = flags.union(SegmentFlags::SILENCE);
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_wrap_and_reports_flags() {
        let mut f = SampleFifo::new(8);
        assert!(f.push(&[1, 2, 3, 4, 5], SegmentFlags::NONE));
        let mut out = [0; 4];
        assert_eq!(f.pop_into(&mut out), SegmentFlags::NONE);
        assert_eq!(out, [1, 2, 3, 4]);
        assert!(f.push(&[6, 7, 8, 9, 10], SegmentFlags::CONCEALED));
        assert!(!f.push(&[0; 3], SegmentFlags::NONE), "over capacity");
        let flags = f.pop_into(&mut out);
        assert_eq!(out, [5, 6, 7, 8]);
        assert!(flags.contains(SegmentFlags::CONCEALED));
        let mut out6 = [0; 6];
        f.pop_into(&mut out6);
        assert_eq!(out6, [9, 10, 0, 0, 0, 0]);
        assert!(f.is_empty());
    }

    #[test]
    fn silence_only_when_every_sample_is_silent() {
        let mut f = SampleFifo::new(16);
        f.push(&[0; 4], SegmentFlags::SILENCE);
        f.push(&[9; 4], SegmentFlags::NONE);
        let mut out = [0; 4];
        assert!(f.pop_into(&mut out).contains(SegmentFlags::SILENCE));
        let mut out = [0; 2];
        f.push(&[0; 4], SegmentFlags::SILENCE);
        assert_eq!(f.pop_into(&mut out), SegmentFlags::NONE);
        let mut out = [0; 4];
        let flags = f.pop_into(&mut out);
        assert!(!flags.contains(SegmentFlags::SILENCE));
    }
}
