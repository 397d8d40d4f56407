//! The faults of a run, drawn from its seed between simulation steps:
//! host crashes and restarts, partitions and repairs, holds and releases
//! of the client's links, and changes of the network's latency.
//!
//! turmoil's TCP does not retransmit: a segment dropped by a partition is
//! lost, and the stream stays stalled after the repair. A real TCP stack
//! would either resume (retransmission) or, its peer gone, reset the
//! connection (retransmission timeout, keepalive); the driver itself never
//! gives up on a silent connection (its idle timeout is only an event).
//! So at the heal, a server whose link was partitioned since it last
//! started is restarted: its stale connections then answer the client's
//! next write with a reset, as a real peer would.

use std::time::Duration;

use super::ledger::{Fault, Ledger};

/// Which faults a scenario draws.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kinds {
    /// Crash and restart servers, at most this many down at once.
    pub(crate) max_down: usize,
    /// Partition and hold the client's links to servers.
    pub(crate) network: bool,
    /// Change the network's largest latency.
    pub(crate) latency: bool,
}

/// One fault to inject (`usize`: which server).
#[derive(Debug, Clone, Copy)]
enum Action {
    Crash(usize),
    /// Restart: after a crash, or at once.
    Start(usize),
    Partition(usize),
    Hold(usize),
    /// Repair, or release.
    Heal(usize),
    Latency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Healthy,
    Held,
    Partitioned,
}

#[derive(Debug)]
struct Server {
    name: String,
    up: bool,
    link: Link,
    /// Partitioned since it last started: its connections may be stalled.
    stalled: bool,
}

/// The fault schedule of one run.
pub(crate) struct Plan {
    rng: fastrand::Rng,
    kinds: Kinds,
    client: String,
    servers: Vec<Server>,
    next: Duration,
    heal_at: Duration,
    healed: bool,
    ledger: Ledger,
}

/// The network's largest latency is drawn from this range (ms).
pub(crate) const LATENCY_MS: std::ops::RangeInclusive<u64> = 2..=60;

/// Time between two faults.
const GAP_MS: std::ops::Range<u64> = 100..1500;

impl Plan {
    pub(crate) fn new(
        seed: u64,
        kinds: Kinds,
        client: &str,
        servers: &[String],
        heal_at: Duration,
        ledger: Ledger,
    ) -> Self {
        // Not the seed itself: turmoil's generator is seeded with it.
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed_fa17);
        let next = Duration::from_millis(rng.u64(GAP_MS));
        Plan {
            rng,
            kinds,
            client: client.to_owned(),
            servers: servers
                .iter()
                .map(|name| Server {
                    name: name.clone(),
                    up: true,
                    link: Link::Healthy,
                    stalled: false,
                })
                .collect(),
            next,
            heal_at,
            healed: false,
            ledger,
        }
    }

    /// Runs the simulation to its end, injecting faults between steps.
    ///
    /// # Errors
    /// turmoil's: a host failed, or the run outlived its duration.
    pub(crate) fn drive(&mut self, sim: &mut turmoil::Sim<'_>) -> turmoil::Result {
        while !sim.step()? {
            let now = sim.elapsed();
            if now >= self.heal_at {
                if !self.healed {
                    self.heal(sim, now);
                }
            } else if now >= self.next {
                self.inject(sim, now);
                self.next = now + Duration::from_millis(self.rng.u64(GAP_MS));
            }
        }
        Ok(())
    }

    fn inject(&mut self, sim: &mut turmoil::Sim<'_>, now: Duration) {
        let down = self.servers.iter().filter(|s| !s.up).count();
        // Every fault that applies now.
        let mut choices = Vec::new();
        for (i, s) in self.servers.iter().enumerate() {
            if self.kinds.max_down > 0 {
                if s.up && down < self.kinds.max_down {
                    choices.push(Action::Crash(i));
                }
                choices.push(Action::Start(i));
            }
            if self.kinds.network {
                match s.link {
                    Link::Healthy => choices.extend([Action::Partition(i), Action::Hold(i)]),
                    Link::Held => choices.extend([Action::Heal(i), Action::Partition(i)]),
                    Link::Partitioned => choices.push(Action::Heal(i)),
                }
            }
        }
        if self.kinds.latency {
            choices.push(Action::Latency);
        }
        if choices.is_empty() {
            return;
        }
        let action = choices[self.rng.usize(..choices.len())];
        let fault = match action {
            Action::Latency => {
                let max = Duration::from_millis(self.rng.u64(LATENCY_MS));
                sim.set_max_message_latency(max);
                Fault::Latency(max)
            }
            Action::Crash(i) => {
                let s = &mut self.servers[i];
                sim.crash(s.name.as_str());
                s.up = false;
                Fault::Crash(s.name.clone())
            }
            Action::Start(i) => {
                let s = &mut self.servers[i];
                sim.bounce(s.name.as_str());
                s.up = true;
                s.stalled = false;
                Fault::Bounce(s.name.clone())
            }
            Action::Partition(i) => {
                let s = &mut self.servers[i];
                sim.partition(self.client.as_str(), s.name.as_str());
                s.link = Link::Partitioned;
                s.stalled = true;
                Fault::Partition(s.name.clone())
            }
            Action::Hold(i) => {
                let s = &mut self.servers[i];
                sim.hold(self.client.as_str(), s.name.as_str());
                s.link = Link::Held;
                Fault::Hold(s.name.clone())
            }
            Action::Heal(i) => match self.heal_link(sim, i) {
                Some(fault) => fault,
                None => return,
            },
        };
        self.ledger.fault(now, fault);
    }

    /// Releases or repairs the link to server `i`: the fault that did it.
    fn heal_link(&mut self, sim: &mut turmoil::Sim<'_>, i: usize) -> Option<Fault> {
        let s = &mut self.servers[i];
        let (client, name) = (self.client.as_str(), s.name.as_str());
        let fault = match s.link {
            Link::Healthy => return None,
            Link::Held => {
                sim.release(client, name);
                Fault::Release(s.name.clone())
            }
            Link::Partitioned => {
                sim.repair(client, name);
                Fault::Repair(s.name.clone())
            }
        };
        s.link = Link::Healthy;
        Some(fault)
    }

    /// Ends the faults: links healed, every server that is down or may
    /// hold stalled connections restarted.
    fn heal(&mut self, sim: &mut turmoil::Sim<'_>, now: Duration) {
        self.healed = true;
        for i in 0..self.servers.len() {
            if let Some(fault) = self.heal_link(sim, i) {
                self.ledger.fault(now, fault);
            }
            let s = &mut self.servers[i];
            if !s.up || s.stalled {
                sim.bounce(s.name.as_str());
                s.up = true;
                s.stalled = false;
                self.ledger.fault(now, Fault::Bounce(s.name.clone()));
            }
        }
    }
}
