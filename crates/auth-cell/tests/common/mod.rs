//! Test drivers for the cell: the smallest loop that honours the contract,
//! with canned token-endpoint answers and a clock moved by hand.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use auth_cell::{
    CellBuilder, Demand, Error, Job, Limits, ManualClock, MemoryStore, Read, Step, TokenCell,
    TokenStore,
};
use auth_core::{ClientAuth, ClientCredentials, OAuth2, RefreshPolicy, Token};

/// What the fake token endpoint answers, in order; the last one repeats.
pub struct Server {
    answers: Mutex<Vec<(u16, String)>>,
    pub sends: AtomicUsize,
}

impl Server {
    pub fn new(answers: Vec<(u16, String)>) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(answers),
            sends: AtomicUsize::new(0),
        })
    }

    pub fn token(value: &str, expires_in: u64) -> (u16, String) {
        (
            200,
            format!(
                r#"{{"access_token":"{value}","token_type":"Bearer","expires_in":{expires_in}}}"#
            ),
        )
    }

    pub fn answer(&self) -> http::Response<Vec<u8>> {
        self.sends.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock().unwrap();
        let (status, body) = if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers[0].clone()
        };
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.into_bytes())
            .unwrap()
    }

    pub fn sends(&self) -> usize {
        self.sends.load(Ordering::SeqCst)
    }
}

pub fn cell(clock: &Arc<ManualClock>, store: bool) -> TokenCell {
    builder(clock).build(&Limits::default(), store).unwrap()
}

pub fn builder(clock: &Arc<ManualClock>) -> CellBuilder {
    CellBuilder::new(
        OAuth2::new("https://auth.example.com/token", ClientAuth::Basic)
            .unwrap()
            .into(),
        ClientCredentials::new("client", "s3cret").unwrap(),
    )
    .clock(clock.clone())
    .seed(7)
    .policy(RefreshPolicy::default())
}

/// Runs a job to the end against `server` and `store`.
pub fn run(mut job: Job, server: &Server, store: Option<&MemoryStore>) {
    while let Some(step) = job.next_step() {
        match step {
            Step::Lock { .. } => job.handle_stored(Ok(())),
            Step::Load => job.handle_loaded(match store {
                Some(s) => TokenStore::load(s, job.key()),
                None => Ok(None),
            }),
            Step::Send(_) => job.handle_response(server.answer()),
            Step::Save(e) => job.handle_stored(store.map_or(Ok(()), |s| s.save(job.key(), &e))),
            Step::Remove(e) => job.handle_stored(store.map_or(Ok(()), |s| s.remove(job.key(), &e))),
            _ => unreachable!(),
        }
    }
}

/// A whole `token()` call: read, demand, run, wait (jumping the clock to
/// the machine's deadlines instead of sleeping).
pub fn token(
    cell: &TokenCell,
    clock: &ManualClock,
    server: &Server,
    store: Option<&MemoryStore>,
) -> Result<Arc<Token>, Error> {
    match cell.read() {
        Read::Fresh(t) => return Ok(t),
        Read::Refresh(t, job) => {
            run(job, server, store);
            return Ok(t);
        }
        Read::Miss => {}
    }
    let mut demand = cell.demand();
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        demand = match demand {
            Demand::Ready(t) => return Ok(t),
            Demand::Failed(e) => return Err(e),
            Demand::Run(job, ticket) => {
                run(job, server, store);
                Demand::Wait(ticket)
            }
            Demand::Wait(mut ticket) => match cell.poll_ticket(&mut ticket, &mut cx) {
                Poll::Ready(d) => d,
                Poll::Pending => {
                    let wait = cell
                        .wake_in(&ticket)
                        .expect("a waiter with nothing to wake it");
                    clock.advance(wait.max(Duration::from_millis(1)));
                    Demand::Wait(ticket)
                }
            },
        };
    }
    panic!("token() did not finish in 1000 steps")
}
