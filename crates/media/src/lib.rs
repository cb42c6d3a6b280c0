//! mediabot's media plane: recorded or live RTP in, attributed 20 ms PCM frames out.
