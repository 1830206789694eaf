//! A request body that can be sent again: frames are recorded, up to a
//! limit, as the first attempt reads them, and a second attempt replays the
//! recording and then goes on reading the original body where the first
//! stopped.
//!
//! Recording while sending, instead of buffering first, keeps streaming
//! requests streaming: a bidirectional gRPC call whose request stream waits
//! for answers never waits on this layer. The cost is that a body longer
//! than the limit cannot be replayed; that attempt's answer goes to the
//! caller as it is.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

use crate::BoxError;

/// What was read from the original body so far.
#[derive(Debug)]
enum Recorded {
    Data(Bytes),
    Trailers(HeaderMap),
}

#[derive(Debug)]
struct Tape<B> {
    body: Pin<Box<B>>,
    frames: Vec<Recorded>,
    bytes: usize,
    limit: usize,
    /// More than `limit` bytes were read, or reading failed: no replay.
    spoiled: bool,
    /// The original body has ended.
    done: bool,
    /// The attempt allowed to read; earlier ones see the end.
    owner: u32,
}

/// The shared recording of one request's body.
#[derive(Debug)]
pub(crate) struct Recording<B>(Arc<Mutex<Tape<B>>>);

impl<B> Clone for Recording<B> {
    fn clone(&self) -> Self {
        Recording(Arc::clone(&self.0))
    }
}

impl<B> Recording<B> {
    /// Records `body` up to `limit` bytes (0: never replayable).
    pub(crate) fn new(body: B, limit: usize) -> Self {
        Recording(Arc::new(Mutex::new(Tape {
            body: Box::pin(body),
            frames: Vec::new(),
            bytes: 0,
            limit,
            spoiled: limit == 0,
            done: false,
            owner: 1,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Tape<B>> {
        // A panic while polling the body leaves the tape consistent: the
        // frame it was reading is simply not recorded.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The body for attempt `n` (1 for the first).
    pub(crate) fn attempt(&self, n: u32) -> AuthBody<B> {
        AuthBody {
            recording: self.clone(),
            attempt: n,
            next: 0,
        }
    }

    /// Hands the body to attempt `n`, if everything read so far was
    /// recorded. The earlier attempt's body ends where it is.
    pub(crate) fn replay_as(&self, n: u32) -> bool {
        let mut tape = self.lock();
        if tape.spoiled {
            return false;
        }
        tape.owner = n;
        true
    }
}

/// The request body the inner service sees: the caller's body, recorded
/// for one replay. Its data are [`Bytes`], its errors boxed.
///
/// With tonic, turn it into tonic's body type with
/// `tonic::body::Body::new` (see the crate docs).
#[derive(Debug)]
pub struct AuthBody<B> {
    recording: Recording<B>,
    attempt: u32,
    /// The next recorded frame this attempt replays.
    next: usize,
}

impl<B> Body for AuthBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let mut tape = this.recording.lock();
        if tape.owner != this.attempt {
            return Poll::Ready(None);
        }
        if let Some(frame) = tape.frames.get(this.next) {
            this.next += 1;
            return Poll::Ready(Some(Ok(match frame {
                Recorded::Data(d) => Frame::data(d.clone()),
                Recorded::Trailers(t) => Frame::trailers(t.clone()),
            })));
        }
        if tape.done {
            return Poll::Ready(None);
        }
        let polled = tape.body.as_mut().poll_frame(cx);
        let frame = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                tape.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Err(e))) => {
                tape.spoiled = true;
                return Poll::Ready(Some(Err(e.into())));
            }
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        let frame = match frame.into_data() {
            Ok(mut data) => Frame::data(data.copy_to_bytes(data.remaining())),
            Err(frame) => match frame.into_trailers() {
                Ok(trailers) => Frame::trailers(trailers),
                // A frame kind http-body may add later: pass nothing on
                // rather than guess, and give up on replaying.
                Err(_) => {
                    tape.spoiled = true;
                    return Poll::Ready(Some(Err("an unknown body frame kind".into())));
                }
            },
        };
        if !tape.spoiled {
            if let Some(d) = frame.data_ref() {
                tape.bytes = tape.bytes.saturating_add(d.len());
            }
            if tape.bytes > tape.limit {
                tape.spoiled = true;
                tape.frames = Vec::new();
            } else {
                tape.frames.push(match frame.data_ref() {
                    Some(d) => Recorded::Data(d.clone()),
                    None => Recorded::Trailers(frame.trailers_ref().cloned().unwrap_or_default()),
                });
                this.next = tape.frames.len();
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        let tape = self.recording.lock();
        tape.owner != self.attempt
            || (self.next >= tape.frames.len() && (tape.done || tape.body.is_end_stream()))
    }

    fn size_hint(&self) -> SizeHint {
        let tape = self.recording.lock();
        if tape.owner != self.attempt {
            return SizeHint::with_exact(0);
        }
        let replayed: usize = tape
            .frames
            .get(self.next..)
            .unwrap_or_default()
            .iter()
            .map(|f| match f {
                Recorded::Data(d) => d.len(),
                Recorded::Trailers(_) => 0,
            })
            .sum();
        let rest = if tape.done {
            SizeHint::with_exact(0)
        } else {
            tape.body.size_hint()
        };
        let replayed = u64::try_from(replayed).unwrap_or(u64::MAX);
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(replayed));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(replayed));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::VecDeque;

    use super::*;
    use http_body_util::{BodyExt, Full};

    /// A body of given frames, one per poll, of unknown size.
    struct Frames(VecDeque<Result<Frame<Bytes>, BoxError>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Ready(self.get_mut().0.pop_front())
        }
    }

    fn chunks(parts: &[&'static str], trailers: Option<HeaderMap>) -> Frames {
        let mut f: VecDeque<_> = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes()))))
            .collect();
        f.extend(trailers.map(|t| Ok(Frame::trailers(t))));
        Frames(f)
    }

    async fn collect<B>(body: AuthBody<B>) -> (Vec<u8>, Option<HeaderMap>)
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let c = body.collect().await.unwrap();
        let trailers = c.trailers().cloned();
        (c.to_bytes().to_vec(), trailers)
    }

    #[tokio::test]
    async fn a_body_read_in_full_is_replayed_in_full() {
        let r = Recording::new(Full::new(Bytes::from_static(b"hello")), 64);
        let first = r.attempt(1);
        assert_eq!(first.size_hint().exact(), Some(5));
        assert_eq!(collect(first).await.0, b"hello");
        assert!(r.replay_as(2));
        let second = r.attempt(2);
        assert_eq!(second.size_hint().exact(), Some(5));
        assert_eq!(collect(second).await.0, b"hello");
    }

    #[tokio::test]
    async fn a_replay_goes_on_where_the_first_attempt_stopped_reading() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-t", "1".parse().unwrap());
        let r = Recording::new(chunks(&["ab", "cd", "ef"], Some(trailers.clone())), 64);
        let mut first = r.attempt(1);
        let f = first.frame().await.unwrap().unwrap();
        assert_eq!(f.data_ref().unwrap(), "ab");
        assert!(r.replay_as(2));
        // The first attempt is over: it sees the end, and reads no more.
        assert!(first.frame().await.is_none());
        assert!(first.is_end_stream());
        let (bytes, t) = collect(r.attempt(2)).await;
        assert_eq!(bytes, b"abcdef");
        assert_eq!(t, Some(trailers));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_sent_but_not_replayable() {
        let r = Recording::new(chunks(&["0123", "4567", "89"], None), 6);
        assert_eq!(collect(r.attempt(1)).await.0, b"0123456789");
        assert!(!r.replay_as(2));
        let r = Recording::new(Full::new(Bytes::from_static(b"x")), 0);
        assert_eq!(collect(r.attempt(1)).await.0, b"x");
        assert!(!r.replay_as(2), "a limit of 0 never replays");
    }

    #[tokio::test]
    async fn a_body_that_fails_is_not_replayed() {
        let failing = Frames(VecDeque::from([
            Ok(Frame::data(Bytes::from_static(b"a"))),
            Err(BoxError::from("broken pipe")),
        ]));
        let r = Recording::new(failing, 64);
        assert!(r.attempt(1).collect().await.is_err());
        assert!(!r.replay_as(2));
    }
}
