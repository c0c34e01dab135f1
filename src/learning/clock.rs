//! Time on task from heartbeats, decided by the server alone. A heartbeat credits the time
//! since the enrolment's previous heartbeat (whatever tab sent it, so two tabs never count
//! twice), only if that gap is short enough to mean the learner was there; a retried
//! heartbeat (same id) credits nothing. An account has one clock: time already credited to
//! one of its enrolments is not credited again to another (two courses in two tabs).
//! Credits accumulate in memory and are written in groups as intervals (`commit`). Pure: the caller
//! passes the clock.

use std::collections::HashMap;

use crate::learning::LessonAt;
use chrono::NaiveDateTime;

/// The page sends one heartbeat every 30 s while the lesson is visible and in use.
pub const HEARTBEAT_SECONDS: i64 = 30;
/// A longer silence is idleness (or a closed tab): it is not counted.
pub const MAX_GAP_SECONDS: i64 = 2 * HEARTBEAT_SECONDS;

/// A stretch of continuous activity on one lesson: its credit is at most its length, less
/// where an overlapping interval of the same account (from another instance) came first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub id: String,
    pub enrolment_id: String,
    pub lesson_id: String,
    pub started_at: NaiveDateTime,
    pub ended_at: NaiveDateTime,
    pub active_seconds: i64,
}

/// What one heartbeat earned, and for which lesson: the gap before a beat belongs to the
/// lesson the learner was on, which a beat from a newly opened lesson is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    pub seconds: i64,
    pub lesson_id: String,
}

#[derive(Debug)]
struct Open {
    interval: Interval,
    last_beat_id: String,
    /// The enrolment's last heartbeat, credited or not (another enrolment of the account may
    /// have had that time): its silence, not its credit, tells idleness.
    last_beat_at: NaiveDateTime,
    /// Changed since the last flush.
    dirty: bool,
}

#[derive(Debug, Default)]
pub struct Tracker {
    open: HashMap<String, Open>,
    closed: Vec<Interval>,
    /// Per account, the end of the last time credited to any of its enrolments. Rule:
    /// first credited wins. Time is credited when a heartbeat reports it, so the enrolment
    /// whose beat comes first keeps it and a later beat of another enrolment only earns
    /// what follows. We chose it over "last active lesson wins" because a credit, once
    /// answered to the page and possibly written, never moves to another course.
    credited_until: HashMap<String, NaiveDateTime>,
}

impl Tracker {
    /// Records a heartbeat of an account's enrolment; returns what it credited.
    pub fn beat(
        &mut self,
        account_id: &str,
        lesson: LessonAt<'_>,
        beat_id: &str,
        now: NaiveDateTime,
    ) -> Credit {
        let LessonAt {
            enrolment_id,
            lesson_id,
        } = lesson;
        let start = |lesson_id: &str, at: NaiveDateTime| Open {
            interval: Interval {
                id: uuid::Uuid::new_v4().to_string(),
                enrolment_id: enrolment_id.to_owned(),
                lesson_id: lesson_id.to_owned(),
                started_at: at,
                ended_at: at,
                active_seconds: 0,
            },
            last_beat_id: beat_id.to_owned(),
            last_beat_at: now,
            dirty: true,
        };
        let nothing = Credit {
            seconds: 0,
            lesson_id: lesson_id.to_owned(),
        };
        let Some(open) = self.open.get_mut(enrolment_id) else {
            self.open
                .insert(enrolment_id.to_owned(), start(lesson_id, now));
            return nothing;
        };
        if open.last_beat_id == beat_id {
            return nothing;
        }
        let gap = (now - open.last_beat_at).num_seconds();
        if gap < 0 {
            return nothing;
        }
        if gap > MAX_GAP_SECONDS {
            let idle = std::mem::replace(open, start(lesson_id, now));
            self.close(idle);
            return nothing;
        }
        // The learner was active until now: the gap belongs to the lesson they were on,
        // less what another enrolment of the account was credited first. It runs from the
        // end of what was credited, not from the last beat: whole seconds are credited and
        // the fraction left waits for the next beat, so beats of two courses a fraction of
        // a second apart do not each round the other's time away.
        let from = match self.credited_until.get(account_id) {
            Some(until) => open.interval.ended_at.max(*until),
            None => open.interval.ended_at,
        };
        let seconds = (now - from).num_seconds().max(0);
        let credited_end = from + chrono::Duration::seconds(seconds);
        open.last_beat_at = now;
        open.last_beat_id = beat_id.to_owned();
        let credited = Credit {
            seconds,
            lesson_id: open.interval.lesson_id.clone(),
        };
        if seconds > 0 {
            if open.interval.active_seconds == 0 {
                open.interval.started_at = from;
            } else if from > open.interval.ended_at {
                // A stretch went to another enrolment: this one resumes after it, so that
                // each interval stays continuous and the union across instances holds.
                let resumed = start(&open.interval.lesson_id, from);
                let before = std::mem::replace(open, resumed);
                self.close(before);
            }
            let open = self.open.get_mut(enrolment_id).expect("just used");
            open.interval.active_seconds += seconds;
            open.interval.ended_at = credited_end;
            open.dirty = true;
            self.credited_until
                .insert(account_id.to_owned(), credited_end);
        }
        let open = self.open.get_mut(enrolment_id).expect("just used");
        if open.interval.lesson_id != lesson_id {
            let previous = std::mem::replace(open, start(lesson_id, now));
            self.close(previous);
        }
        credited
    }

    fn close(&mut self, open: Open) {
        if open.interval.active_seconds > 0 {
            self.closed.push(open.interval);
        }
    }

    /// What must reach the database: closed intervals, and open ones that changed (to be
    /// upserted by id). Intervals silent for longer than the idle gap are closed here.
    pub fn take_flush(&mut self, now: NaiveDateTime) -> Vec<Interval> {
        let mut batch = std::mem::take(&mut self.closed);
        let keys: Vec<String> = self.open.keys().cloned().collect();
        for key in keys {
            batch.extend(self.take_open(&key, now));
        }
        // An account's older credit cannot meet a beat any more: the enrolments it could
        // hold back last beat before it, and a gap that long is idle.
        self.credited_until
            .retain(|_, until| (now - *until).num_seconds() <= 2 * MAX_GAP_SECONDS);
        batch
    }

    /// The unwritten time of one open interval: an interval silent for longer than the idle
    /// gap is closed (removed); one still open is marked written. Already-written stretches
    /// are up to date: only unwritten time is returned.
    fn take_open(&mut self, key: &str, now: NaiveDateTime) -> Option<Interval> {
        let open = self.open.get_mut(key)?;
        let unwritten = open.dirty && open.interval.active_seconds > 0;
        if (now - open.last_beat_at).num_seconds() > MAX_GAP_SECONDS {
            let open = self.open.remove(key).expect("found");
            return unwritten.then_some(open.interval);
        }
        if !unwritten {
            return None;
        }
        open.dirty = false;
        Some(open.interval.clone())
    }

    /// Whether this instance holds an open stretch for the enrolment.
    pub fn is_open(&self, enrolment_id: &str) -> bool {
        self.open.contains_key(enrolment_id)
    }

    /// Picks up where the stored time of an enrolment ended (`lesson_id` at `ended_at`),
    /// when this instance holds nothing for it — after a restart, or when another instance
    /// had it: the stretch from there to the next beat is credited as if the tracker had
    /// never stopped (within the idle gap), in a new interval of its own, so two instances
    /// never write one interval.
    pub fn resume(&mut self, account_id: &str, lesson: LessonAt<'_>, ended_at: NaiveDateTime) {
        if self.open.contains_key(lesson.enrolment_id) {
            return;
        }
        self.open.insert(
            lesson.enrolment_id.to_owned(),
            Open {
                interval: Interval {
                    id: uuid::Uuid::new_v4().to_string(),
                    enrolment_id: lesson.enrolment_id.to_owned(),
                    lesson_id: lesson.lesson_id.to_owned(),
                    started_at: ended_at,
                    ended_at,
                    active_seconds: 0,
                },
                last_beat_id: String::new(),
                last_beat_at: ended_at,
                dirty: false,
            },
        );
        let until = self
            .credited_until
            .entry(account_id.to_owned())
            .or_insert(ended_at);
        *until = (*until).max(ended_at);
    }

    /// Puts back a batch whose write failed, so it is retried at the next flush.
    pub fn restore(&mut self, batch: Vec<Interval>) {
        for interval in batch {
            match self.open.get_mut(&interval.enrolment_id) {
                Some(open) if open.interval.id == interval.id => open.dirty = true,
                _ => self.closed.push(interval),
            }
        }
    }

    /// Forgets an enrolment (withdrawn): its unflushed time is dropped with it.
    pub fn forget(&mut self, enrolment_id: &str) {
        self.open.remove(enrolment_id);
        self.closed.retain(|i| i.enrolment_id != enrolment_id);
    }
}

/// Makes an account's credited time the union of its intervals, whichever instance and
/// enrolment recorded them: with several app instances, two tabs (of one course or of two)
/// may beat on two trackers and record overlapping intervals. Each interval is credited
/// only with the part that no earlier one (by start, then id) covers: across instances,
/// "first credited wins" becomes "first started wins", the order every instance can see.
/// `intervals` are the account's intervals ending after `since`, sorted by (start, id);
/// those starting before `since` keep their credit (their predecessors were not loaded) but
/// still cover later ones. Returns the new credits of the intervals whose credit changes,
/// by index.
pub fn union_credits(intervals: &[Interval], since: NaiveDateTime) -> Vec<(usize, i64)> {
    let mut covered_until: Option<NaiveDateTime> = None;
    let mut changed = Vec::new();
    for (index, interval) in intervals.iter().enumerate() {
        if interval.started_at >= since {
            let from = covered_until.map_or(interval.started_at, |c| c.max(interval.started_at));
            let credit = (interval.ended_at - from).num_seconds().max(0);
            if credit != interval.active_seconds {
                changed.push((index, credit));
            }
        }
        covered_until = Some(covered_until.map_or(interval.ended_at, |c| c.max(interval.ended_at)));
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(enrolment_id: &'a str, lesson_id: &'a str) -> LessonAt<'a> {
        LessonAt {
            enrolment_id,
            lesson_id,
        }
    }

    fn t(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0)
            .unwrap()
            .naive_utc()
    }

    fn beat(
        tracker: &mut Tracker,
        account: &str,
        at: LessonAt<'_>,
        id: &str,
        now: NaiveDateTime,
    ) -> i64 {
        tracker.beat(account, at, id, now).seconds
    }

    fn total(batch: &[Interval]) -> i64 {
        batch.iter().map(|i| i.active_seconds).sum()
    }

    #[test]
    fn regular_heartbeats_count_the_time_between_them() {
        let mut tracker = Tracker::default();
        assert_eq!(beat(&mut tracker, "a", at("e", "l1"), "b1", t(0)), 0);
        assert_eq!(beat(&mut tracker, "a", at("e", "l1"), "b2", t(30)), 30);
        assert_eq!(beat(&mut tracker, "a", at("e", "l1"), "b3", t(60)), 30);
        let batch = tracker.take_flush(t(61));
        assert_eq!(total(&batch), 60);
        assert_eq!((batch[0].started_at, batch[0].ended_at), (t(0), t(60)));
    }

    #[test]
    fn an_idle_gap_is_not_counted() {
        let mut tracker = Tracker::default();
        beat(&mut tracker, "a", at("e", "l1"), "b1", t(0));
        beat(&mut tracker, "a", at("e", "l1"), "b2", t(30));
        assert_eq!(
            beat(&mut tracker, "a", at("e", "l1"), "b3", t(30 + 600)),
            0,
            "ten minutes away"
        );
        assert_eq!(beat(&mut tracker, "a", at("e", "l1"), "b4", t(660)), 30);
        let batch = tracker.take_flush(t(661));
        assert_eq!(total(&batch), 60);
        assert_eq!(batch.len(), 2, "two separate stretches");
    }

    #[test]
    fn two_tabs_never_count_twice() {
        let mut tracker = Tracker::default();
        // Both tabs beat every 30 s, 15 s apart: 120 s of wall clock.
        let mut credited = 0;
        for i in 0..=8 {
            let tab = if i % 2 == 0 { "a" } else { "b" };
            credited += beat(
                &mut tracker,
                "a",
                at("e", "l1"),
                &format!("{tab}{i}"),
                t(i * 15),
            );
        }
        assert_eq!(credited, 120);
        assert_eq!(total(&tracker.take_flush(t(121))), 120);
    }

    #[test]
    fn a_retried_heartbeat_counts_nothing() {
        let mut tracker = Tracker::default();
        beat(&mut tracker, "a", at("e", "l1"), "b1", t(0));
        assert_eq!(beat(&mut tracker, "a", at("e", "l1"), "b2", t(30)), 30);
        assert_eq!(beat(&mut tracker, "a", at("e", "l1"), "b2", t(35)), 0);
        assert_eq!(total(&tracker.take_flush(t(36))), 30);
    }

    #[test]
    fn switching_lessons_credits_the_gap_to_the_lesson_left() {
        let mut tracker = Tracker::default();
        beat(&mut tracker, "a", at("e", "l1"), "b1", t(0));
        beat(&mut tracker, "a", at("e", "l2"), "b2", t(30));
        beat(&mut tracker, "a", at("e", "l2"), "b3", t(60));
        let batch = tracker.take_flush(t(61));
        let by_lesson: Vec<(&str, i64)> = batch
            .iter()
            .map(|i| (i.lesson_id.as_str(), i.active_seconds))
            .collect();
        assert!(
            by_lesson.contains(&("l1", 30)) && by_lesson.contains(&("l2", 30)),
            "{by_lesson:?}"
        );
    }

    fn span(id: &str, from: i64, to: i64, credit: i64) -> Interval {
        Interval {
            id: id.into(),
            enrolment_id: "e".into(),
            lesson_id: "l".into(),
            started_at: t(from),
            ended_at: t(to),
            active_seconds: credit,
        }
    }

    #[test]
    fn overlapping_intervals_from_two_instances_count_their_union_once() {
        // Instance A recorded 0–60, instance B 15–75 (two tabs, no sticky sessions).
        let mut spans = vec![span("a", 0, 60, 60), span("b", 15, 75, 60)];
        assert_eq!(union_credits(&spans, t(0)), vec![(1, 15)]);
        spans[1].active_seconds = 15;
        // A grows to 90 and now covers all of B: B is credited nothing.
        spans[0] = span("a", 0, 90, 90);
        assert_eq!(union_credits(&spans, t(0)), vec![(1, 0)]);
        spans[1].active_seconds = 0;
        let total: i64 = spans.iter().map(|s| s.active_seconds).sum();
        assert_eq!(total, 90);
    }

    #[test]
    fn intervals_before_the_window_keep_their_credit_but_still_cover() {
        let spans = vec![span("old", 0, 100, 40), span("new", 50, 130, 80)];
        assert_eq!(union_credits(&spans, t(50)), vec![(1, 30)]);
        // Disjoint intervals are left alone.
        let spans = vec![span("x", 0, 10, 10), span("y", 20, 30, 10)];
        assert!(union_credits(&spans, t(0)).is_empty());
    }

    #[test]
    fn a_flushed_interval_is_sent_again_only_when_it_grows() {
        let mut tracker = Tracker::default();
        beat(&mut tracker, "a", at("e", "l1"), "b1", t(0));
        beat(&mut tracker, "a", at("e", "l1"), "b2", t(30));
        assert_eq!(tracker.take_flush(t(31)).len(), 1);
        assert!(tracker.take_flush(t(32)).is_empty());
        beat(&mut tracker, "a", at("e", "l1"), "b3", t(60));
        let again = tracker.take_flush(t(61));
        assert_eq!(
            (again.len(), again[0].active_seconds),
            (1, 60),
            "same id, upserted"
        );
        assert!(
            tracker.take_flush(t(1000)).is_empty(),
            "stale and already written"
        );
    }

    #[test]
    fn one_account_has_one_clock_across_its_enrolments_first_credited_wins() {
        let mut tracker = Tracker::default();
        // Two courses in two tabs, beating 1 s apart every 28 s (the review's F2): 84 s.
        let mut credited = (0, 0);
        for i in 0..=3 {
            credited.0 += beat(
                &mut tracker,
                "a",
                at("e1", "l"),
                &format!("x{i}"),
                t(i * 28),
            );
            credited.1 += beat(
                &mut tracker,
                "a",
                at("e2", "l"),
                &format!("y{i}"),
                t(i * 28 + 1),
            );
        }
        // Each round, e1's beat takes the time up to it; e2's beat, a second later, only that second.
        assert_eq!(credited, (82, 3), "not 84 each, as before");
        let batch = tracker.take_flush(t(86));
        assert_eq!(
            total(&batch),
            85,
            "wall clock from the first beat to the last"
        );
        // No two intervals of the account overlap.
        let mut spans: Vec<_> = batch.iter().map(|i| (i.started_at, i.ended_at)).collect();
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "{spans:?}");
        assert!(batch
            .iter()
            .all(|i| (i.ended_at - i.started_at).num_seconds() == i.active_seconds));
    }

    #[test]
    fn another_account_keeps_its_own_clock_and_a_stopped_tab_frees_the_time() {
        let mut tracker = Tracker::default();
        beat(&mut tracker, "a", at("e1", "l"), "a0", t(0));
        beat(&mut tracker, "b", at("f1", "l"), "b0", t(0));
        beat(&mut tracker, "a", at("e2", "l"), "c0", t(0));
        assert_eq!(beat(&mut tracker, "a", at("e1", "l"), "a1", t(30)), 30);
        assert_eq!(
            beat(&mut tracker, "b", at("f1", "l"), "b1", t(30)),
            30,
            "another person"
        );
        assert_eq!(beat(&mut tracker, "a", at("e2", "l"), "c1", t(30)), 0);
        // The first tab stops: the second one is credited from the last credited instant.
        assert_eq!(beat(&mut tracker, "a", at("e2", "l"), "c2", t(60)), 30);
        assert_eq!(beat(&mut tracker, "a", at("e2", "l"), "c3", t(90)), 30);
        let batch = tracker.take_flush(t(91));
        let of = |e: &str| {
            total(
                &batch
                    .iter()
                    .filter(|i| i.enrolment_id == e)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!((of("e1"), of("e2"), of("f1")), (30, 60, 30));
    }

    #[test]
    fn after_a_restart_the_stretch_since_the_stored_time_is_credited_within_the_idle_gap() {
        let t0 = chrono::NaiveDate::from_ymd_opt(2026, 12, 6)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        let lesson = LessonAt {
            enrolment_id: "e",
            lesson_id: "l1",
        };
        // A new tracker (restarted): the stored time ended at t0; the next beat 30 s later.
        let mut tracker = Tracker::default();
        tracker.resume("a", lesson, at(0));
        assert_eq!(tracker.beat("a", lesson, "b1", at(30)).seconds, 30);
        // Too long a silence is idleness, restart or not.
        let mut tracker = Tracker::default();
        tracker.resume("a", lesson, at(0));
        assert_eq!(
            tracker
                .beat("a", lesson, "b1", at(MAX_GAP_SECONDS + 5))
                .seconds,
            0
        );
        // What this instance already holds is not replaced.
        let mut tracker = Tracker::default();
        tracker.beat("a", lesson, "b1", at(100));
        tracker.resume("a", lesson, at(0));
        assert_eq!(tracker.beat("a", lesson, "b2", at(130)).seconds, 30);
    }

    #[test]
    fn beats_of_two_courses_a_fraction_of_a_second_apart_keep_the_time() {
        let ms = |ms: i64| t(0) + chrono::Duration::milliseconds(ms);
        let mut tracker = Tracker::default();
        let mut credited = 0;
        // Every 1.1 s, both courses beat, 0.5 s apart: 4.9 s of wall clock.
        for round in 0..5 {
            let when = round * 1_100;
            credited += beat(
                &mut tracker,
                "a",
                at("e1", "l"),
                &format!("x{round}"),
                ms(when),
            );
            credited += beat(
                &mut tracker,
                "a",
                at("e2", "l"),
                &format!("y{round}"),
                ms(when + 500),
            );
        }
        assert_eq!(
            credited, 4,
            "whole seconds of the 4.9 s, none rounded away twice"
        );
        assert_eq!(total(&tracker.take_flush(ms(5_000))), 4);
    }
}
