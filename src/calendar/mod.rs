//! The calendar: international days, time zones and recurrence.

/// The international days berrah knows: the shipped list plus a campaign's own.
#[derive(Debug, Clone, Default)]
pub struct Calendar {}

impl Calendar {
    /// The shipped calendar of UN international days.
    pub fn shipped() -> Calendar {
        Calendar {}
    }
}
