//! What each step of a journey asks of the twin, read from its method and
//! path against the twin's routes: answered at once, a signature (waited
//! for, or started as a job), or the start of something the journey polls
//! for later (a one-time password, a payment's callback, a place in the
//! waiting room). The one place the model knows the twin's routes.

use crate::scenario::model::Step;
use crate::scenario::refs::Method;
use crate::scenario::template::Segment;

/// Something that happens on its own after a step starts it, which a
/// later polling step waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    Otp,
    Callback,
    Admission,
    Job,
}

/// A step's demand on the twin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Answered at once (no capped resource behind it).
    Plain,
    /// Answered after its own service time, waiting for no one (a fitted
    /// route without a pool).
    Delay,
    /// A worker of a pool the answer waits for (a partner's stamp at the
    /// signing pool, a fitted route at its pool).
    Sign,
    /// A signature started as a job; the answer comes at once.
    SignJob,
    /// Starts an event that a later step polls for.
    Start(Event),
    /// Polls until the event started earlier has happened.
    Await(Event),
}

impl Work {
    /// The resource whose wait shows in this step, for reports.
    pub fn resource(&self) -> &'static str {
        match self {
            Work::Plain | Work::Delay => "http",
            Work::Sign | Work::SignJob | Work::Await(Event::Job) => "signing",
            Work::Start(Event::Admission) | Work::Await(Event::Admission) => "waiting_room",
            Work::Start(Event::Job) => "signing",
            Work::Await(Event::Otp) => "otp_delivery",
            Work::Await(Event::Callback) => "payment_callback",
            Work::Start(_) => "http",
        }
    }

    /// Whether this step takes a serial number from a stock.
    pub fn spends_serial(&self) -> bool {
        matches!(self, Work::Sign | Work::SignJob)
    }
}

/// The step's path with every variable as `*`: `/stamping/jobs/*`.
pub fn shape(step: &Step) -> String {
    step.path
        .segments()
        .iter()
        .map(|s| match s {
            Segment::Text(t) => t.as_str(),
            Segment::Var(_) | Segment::Env { .. } => "*",
        })
        .collect::<String>()
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string()
}

/// What `step` asks of the twin.
pub fn of(step: &Step) -> Work {
    let path = shape(step);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let post = step.method == Method::Post;
    let get = step.method == Method::Get;
    let polls = step.until.is_some();
    match parts.as_slice() {
        ["storefront", "queue"] if post => Work::Start(Event::Admission),
        ["storefront", "queue", _] if get && polls => Work::Await(Event::Admission),
        ["storefront", "login"] if post => Work::Start(Event::Otp),
        ["storefront", "otp", _] if get && polls => Work::Await(Event::Otp),
        ["storefront", "orders", _, "pay"] if post => Work::Start(Event::Callback),
        ["storefront", "orders", _] | ["storefront", "quota"] if get && polls => {
            Work::Await(Event::Callback)
        }
        ["stamping", "documents", _, "stamp"] if post => Work::SignJob,
        ["stamping", "jobs", _] if get && polls => Work::Await(Event::Job),
        ["partners", _, "stamp"] if post => Work::Sign,
        _ => Work::Plain,
    }
}

/// The partner a `/partners/NAME/...` step addresses, when the name is
/// written out (a variable names none).
pub fn partner(step: &Step) -> Option<String> {
    let path = shape(step);
    let mut parts = path.trim_start_matches('/').split('/');
    (parts.next() == Some("partners"))
        .then(|| parts.next())
        .flatten()
        .filter(|p| *p != "*")
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(yaml: &str) -> Step {
        serde_yaml::from_str(yaml).expect("a step")
    }

    #[test]
    fn the_twin_routes_are_told_apart() {
        let s = step("{ name: s, method: POST, path: \"/stamping/documents/{document}/stamp\" }");
        assert_eq!(of(&s), Work::SignJob);
        let s = step(
            "{ name: w, path: \"/stamping/jobs/{job}\", until: { path: $.state, equals: done }, poll: { every: 20ms, timeout: 5s } }",
        );
        assert_eq!(of(&s), Work::Await(Event::Job));
        let s = step("{ name: p, method: POST, path: \"/partners/{partner}/stamp?x=1\" }");
        assert_eq!(of(&s), Work::Sign);
        assert_eq!(partner(&s), None);
        let s = step("{ name: p, method: POST, path: /partners/pos/stamp }");
        assert_eq!(partner(&s).as_deref(), Some("pos"));
        // A job read once, not polled, waits for nothing.
        let s = step("{ name: j, path: \"/stamping/jobs/{job}\" }");
        assert_eq!(of(&s), Work::Plain);
        let s = step("{ name: l, method: POST, path: /storefront/login }");
        assert_eq!(of(&s), Work::Start(Event::Otp));
    }
}
