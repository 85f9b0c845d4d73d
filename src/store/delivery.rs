//! A claim on its way to the caller who asked for it. Claims run in a task
//! of their own (the batcher's worker, or the one `claim_to_completion`
//! spawns), so they go on when the caller stops waiting; the claim is then
//! handed over through a channel, and a claim its caller never took out of
//! the channel is given back (on its token only).
//!
//! Both ends watch: the sender gives back a claim it could not send (the
//! caller was gone before), and the caller's end, when dropped unread,
//! gives back a claim that was sent but not received (the caller went away
//! between the send and its next poll, which under load can be a while).

use tokio::sync::oneshot;

use super::error::StoreError;
use super::pool::{AliasPool, ClaimRequest, ClaimedAlias, ReleaseOutcome, ReleasePolicy};
use crate::azure::AzureError;

type Outcome = Result<ClaimedAlias, StoreError>;

/// The claiming task's end of a hand-over.
pub(super) type Reply = oneshot::Sender<Outcome>;

/// The caller's end of a hand-over (see [`handover`]).
#[derive(Debug)]
pub(super) struct Answer {
    answer: oneshot::Receiver<Outcome>,
    pool: AliasPool,
}

/// A channel for one claim's outcome; a claim that goes into it and never
/// comes out is given back.
pub(super) fn handover(pool: &AliasPool) -> (Reply, Answer) {
    let (reply, answer) = oneshot::channel();
    let answer = Answer {
        answer,
        pool: pool.clone(),
    };
    (reply, answer)
}

impl Answer {
    /// The claim's outcome; cancelled when the claiming task ended without one.
    pub(super) async fn received(mut self) -> Outcome {
        match (&mut self.answer).await {
            Ok(outcome) => outcome,
            Err(_) => Err(AzureError::Cancelled {
                operation: "claim alias",
            }
            .into()),
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        // After `close` no send succeeds (the sender gives that claim back);
        // `try_recv` then finds one sent before, which nobody will read.
        self.answer.close();
        let Ok(Ok(claimed)) = self.answer.try_recv() else {
            return;
        };
        tracing::debug!(alias_id = %claimed.alias.id, "a claim was sent but its caller went away");
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let pool = self.pool.clone();
                runtime.spawn(async move { pool.release_unreceived(&claimed).await });
            }
            Err(_) => tracing::warn!(
                alias_id = %claimed.alias.id,
                "could not give back a claim whose caller had gone away (no runtime); it stays \
                 claimed (list orphaned claims with `rootmail pool list --unlinked-for`)"
            ),
        }
    }
}

/// Hands a claim's outcome to whoever waits on `reply`, giving back a claim
/// the caller is no longer there to take.
pub(super) async fn deliver(pool: &AliasPool, reply: Reply, outcome: Outcome) {
    if let Err(Ok(claimed)) = reply.send(outcome) {
        pool.release_unreceived(&claimed).await;
    }
}

impl AliasPool {
    /// Gives back a new (or resumed) claim that nobody received, only while
    /// it still holds the row; an existing one (adopted with its token)
    /// belongs to someone else and is left alone. Runs after cancellation too.
    pub(super) async fn release_unreceived(&self, claimed: &ClaimedAlias) {
        if claimed.existing {
            return;
        }
        let id = &claimed.alias.id;
        match self
            .detached()
            .release(id, &claimed.claim(), ReleasePolicy::Release)
            .await
        {
            Ok(ReleaseOutcome::Released) => {
                tracing::info!(alias_id = %id, "gave back a claim whose caller had gone away");
            }
            Ok(other) => {
                tracing::debug!(alias_id = %id, ?other, "unreceived claim not held any more")
            }
            Err(e) => tracing::warn!(
                alias_id = %id,
                error = %e,
                "could not give back a claim whose caller had gone away; it stays claimed \
                 (list orphaned claims with `rootmail pool list --unlinked-for`)"
            ),
        }
    }

    /// Claims like [`AliasPool::claim`], but the claim runs to its end even
    /// if the caller stops waiting; a claim made for a caller who is gone
    /// is given back.
    pub async fn claim_to_completion(&self, request: &ClaimRequest) -> Outcome {
        let (reply, answer) = handover(self);
        let pool = self.clone();
        let request = request.clone();
        tokio::spawn(async move {
            let outcome = pool.claim(&request).await;
            deliver(&pool, reply, outcome).await;
        });
        answer.received().await
    }
}
