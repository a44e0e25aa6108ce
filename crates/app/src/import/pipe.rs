//! A bounded channel from a plain thread to an async task, with only the standard library
//! (the app crate does not depend on tokio): the thread blocks when the channel is full,
//! which keeps memory flat, and the task is woken instead of blocking its runtime.

use std::future::poll_fn;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};

/// The waker of the task waiting in [`PipeRx::recv`], if it is waiting.
type Slot = Arc<Mutex<Option<Waker>>>;

/// The sending half, used on the thread.
pub struct PipeTx<T> {
    /// An `Option` so that `drop` can disconnect before it wakes the receiver.
    tx: Option<SyncSender<T>>,
    waiting: Slot,
}

/// The receiving half, awaited on the async side.
pub struct PipeRx<T> {
    rx: Receiver<T>,
    waiting: Slot,
}

/// A channel holding at most `bound` messages.
pub fn pipe<T>(bound: usize) -> (PipeTx<T>, PipeRx<T>) {
    let (tx, rx) = sync_channel(bound);
    let waiting = Slot::default();
    (PipeTx { tx: Some(tx), waiting: waiting.clone() }, PipeRx { rx, waiting })
}

fn wake(slot: &Slot) {
    if let Some(w) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
        w.wake();
    }
}

impl<T> PipeTx<T> {
    /// Sends `value`, blocking while the channel is full; `Err` once the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), T> {
        let Some(tx) = &self.tx else { return Err(value) };
        tx.send(value).map_err(|e| e.0)?;
        wake(&self.waiting);
        Ok(())
    }
}

impl<T> Drop for PipeTx<T> {
    fn drop(&mut self) {
        // Disconnect first, so that the woken receiver sees the end rather than waiting again.
        drop(self.tx.take());
        wake(&self.waiting);
    }
}

impl<T> PipeRx<T> {
    /// The next message, or `None` once the sender is gone and everything sent was received.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| {
            match self.rx.try_recv() {
                Ok(v) => return Poll::Ready(Some(v)),
                Err(TryRecvError::Disconnected) => return Poll::Ready(None),
                Err(TryRecvError::Empty) => {}
            }
            *self.waiting.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
            // A message sent between the first look and registering the waker found no waker
            // to wake: look again now that it is registered.
            match self.rx.try_recv() {
                Ok(v) => Poll::Ready(Some(v)),
                Err(TryRecvError::Disconnected) => Poll::Ready(None),
                Err(TryRecvError::Empty) => Poll::Pending,
            }
        })
        .await
    }
}
