//! [`Caller`]: one invocation's handle on the simulated world, shared by its cloud and its store:
//! every call takes virtual time and may meet a fault the world's seeded generator decides
//! (latency, a throttle, a lost answer, a crash before or after the effect).

use crate::clock::SimClock;
use crate::cloud::SimCloud;
use crate::world::{CallFaults, Direction, MINUTE, World};
use costctl_engine::error::{CloudError, CloudResult};
use std::sync::{Arc, Mutex, MutexGuard};

/// The shared world.
#[derive(Clone)]
pub struct Shared(pub Arc<Mutex<World>>);

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Who is calling: one invocation.
#[derive(Clone)]
pub struct Caller {
    pub world: Shared,
    pub clock: SimClock,
    pub inv: usize,
    pub owner: String,
    pub stack: String,
    /// A Terraform invocation: its deletes change the spec, they do not pause the stack.
    pub terraform: bool,
}

impl Caller {
    /// Latency, then maybe a crash or a transient error before the effect. Returns the faults
    /// still to apply after the effect.
    pub(crate) async fn before(&self, op: &str, mutating: bool) -> Result<CallFaults, String> {
        let faults = self.world.lock().decide(op, mutating);
        self.clock.sleep_ms(faults.latency_ms).await;
        let crash = self.note_before(op, faults);
        if crash {
            futures::future::pending::<()>().await;
        }
        if faults.transient {
            return Err("ThrottlingException".into());
        }
        Ok(faults)
    }

    fn note_before(&self, op: &str, faults: CallFaults) -> bool {
        let mut w = self.world.lock();
        let now = self.clock.now();
        w.advance(now);
        if faults.latency_ms >= MINUTE {
            w.log(format!(
                "FAULT {}: {op} stalled {}s",
                self.owner,
                faults.latency_ms / 1000
            ));
        }
        if faults.crash_before {
            w.log(format!("CRASH {} before {op}", self.owner));
            w.crashed.insert(self.inv);
            return true;
        }
        if faults.transient {
            w.log(format!("FAULT {}: {op} throttled", self.owner));
        }
        false
    }

    /// After the effect: maybe a crash, or a lost answer.
    pub(crate) async fn after(&self, op: &str, faults: CallFaults, ok: bool) -> Result<(), String> {
        if faults.stall_ms > 0 {
            self.note(
                format!(
                    "FAULT {}: the answer of {op} comes {}s late",
                    self.owner,
                    faults.stall_ms / 1000
                ),
                false,
            );
            self.clock.sleep_ms(faults.stall_ms).await;
        }
        if faults.crash_after {
            self.note(format!("CRASH {} after {op}", self.owner), true);
            futures::future::pending::<()>().await;
        }
        if faults.lost_answer && ok {
            self.note(
                format!("FAULT {}: {op} took effect, answer lost", self.owner),
                false,
            );
            return Err("RequestTimeout".into());
        }
        Ok(())
    }

    fn note(&self, line: String, crash: bool) {
        let mut w = self.world.lock();
        w.log(line);
        if crash {
            w.crashed.insert(self.inv);
        }
    }
}

fn transient(op: &'static str, resource: &str, code: String) -> CloudError {
    CloudError::Transient {
        operation: op,
        resource: resource.into(),
        code,
        message: "simulated".into(),
    }
}

pub(crate) fn rejected(op: &'static str, resource: &str, code: &str, message: &str) -> CloudError {
    CloudError::Rejected {
        operation: op,
        resource: resource.into(),
        code: code.into(),
        message: message.into(),
    }
}

pub(crate) fn not_found(op: &'static str, resource: &str, code: &str) -> CloudError {
    CloudError::NotFound {
        operation: op,
        resource: resource.into(),
        code: code.into(),
        message: "simulated".into(),
    }
}

impl SimCloud {
    pub(crate) async fn call<R>(
        &self,
        op: &'static str,
        resource: &str,
        dir: Option<Direction>,
        effect: impl FnOnce(&mut World) -> CloudResult<R> + Send,
    ) -> CloudResult<R> {
        let c = &self.0;
        if dir.is_some() {
            c.world.lock().sent.push((c.clock.now(), op));
        }
        let faults = c
            .before(op, dir.is_some())
            .await
            .map_err(|code| transient(op, resource, code))?;
        let result = {
            let mut w = c.world.lock();
            if let Some(dir) = dir {
                if w.foreign.contains(resource) {
                    w.violation(format!("{} called {op} on foreign {resource}", c.owner));
                }
                w.check_actor(&c.stack, &c.owner, &format!("{op} {resource}"), dir);
            }
            let r = effect(&mut w);
            if dir.is_some() {
                let outcome = match &r {
                    Ok(_) => "ok".to_string(),
                    Err(e) => format!("error: {e}"),
                };
                w.log(format!("{}: {op} {resource} -> {outcome}", c.owner));
                w.version += 1;
                w.check();
            }
            r
        };
        c.after(op, faults, result.is_ok())
            .await
            .map_err(|code| transient(op, resource, code))?;
        result
    }
}
