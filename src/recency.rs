//! [`RecencyLog`]: live records in the order of a time that each change sets to the clock's,
//! so that a list in that order reads its page rather than every match. A region keeps two:
//! the update log, of every live record by `updated_at`, and the attach log, of the attached
//! records by `attached_at`.
//!
//! Each change of a record appends its handle to the log, and the entry it had goes stale. The
//! engine's clock never runs back, so the log is in time order, save that records changed in
//! the same microsecond stand in the order of their changes, where a list orders them by
//! creation: a page sorts the tied entries at its two ends. The live entries are marked in a
//! [`LiveSet`] over the log's positions, whose counts per block find the `k`-th in
//! O(log length / 4,096). When stale entries outnumber the live ones, the log drops them.
//!
//! A log holds the records of a [`LiveSet`] kept beside it (the store's live set for the update
//! log, its attached set for the attach log). A booking writes nothing to the log: the records
//! booked since its last change (the newest handles, booked at their time) follow the log, in
//! handle order, which is their time order, and the set beside it walks them. The next change
//! appends them before its own entry.
//!
//! Without the update log, a page of a million IPs by update time read every record (72 MB)
//! and selected its window out of a million keys: 17-21 ms whatever the page, holding a shared
//! engine's read lock all along; so did a page by attachment time without the attach log. With
//! them, such a page reads its own entries and a few around them: about 4 µs (harness, 1M
//! IPs). Their costs: each change touches one more cache line per log (the handle's position
//! in it), which the calls start loading with the record (in the harness, the update log made
//! updates about 5 % slower and attachments about 12 %; the attach log, attachments another
//! 10 % and moves 5 %); about 13 bytes per logged IP (149 bytes per IP in all, both logs full,
//! against 123 as booked); and two O(n) calls, the first change after n bookings (which logs
//! them: 6-7 ms per million IPs for the update log, 13-14 ms for the first move, which fills
//! both) and a squeeze (6-7 ms per million entries), on a 1M-IP region on the development
//! machine.

use crate::live::LiveSet;
use crate::store::Handle;

/// A handle with no entry.
const NONE: u32 = u32::MAX;

/// The log keeps its stale entries until they outnumber the live ones and this many entries.
const SQUEEZE_MIN: usize = 4096;

/// Most entries tied with a page's first (or last) one that the page sorts: past them, the
/// list reads every match instead. Records changed in one microsecond are few, unless the
/// clock stands still.
const TIE_MAX: usize = 1024;

/// The handles of a set of live records (`records` in the methods' arguments), in the order of
/// their last change: those in the log, then the handles of the set from
/// [`RecencyLog::tail_from`] on (the unlogged tail), in handle order.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecencyLog {
    /// Handles, in the order they were appended; stale ones among them.
    entries: Vec<Handle>,
    /// The positions of the live entries.
    live: LiveSet,
    /// For each handle below `tail_from`, the position of its live entry, or [`NONE`]; shorter
    /// when the last of those handles have none.
    at: Vec<u32>,
    /// Every handle of the set below this one has an entry; none from it on has.
    tail_from: Handle,
}

impl RecencyLog {
    /// The log of every live handle, `handles` in this order, the next handle being `end`.
    pub(crate) fn of(handles: impl IntoIterator<Item = Handle>, end: Handle) -> Self {
        let mut log = Self {
            tail_from: end,
            ..Self::default()
        };
        for h in handles {
            log.append(h);
        }
        log
    }

    /// Number of live entries in the log (the unlogged tail aside). O(1).
    pub(crate) fn len(&self) -> u64 {
        self.live.len()
    }

    /// Moves `handle`'s record to the end of the log's order: it has just changed. `records`
    /// are the handles of the log's set, the store's next handle being `end`. O(1) amortized: after bookings, it
    /// first appends theirs (booked before this change, they come before it).
    pub(crate) fn touch(&mut self, handle: Handle, records: &LiveSet, end: Handle) {
        if end > self.tail_from {
            self.append_tail(records, end);
        }
        self.remove(handle);
        self.append(handle);
    }

    /// Appends the unlogged tail, the live handles from `tail_from` to `end`, in one go: their
    /// positions are consecutive, and their handles ascend. The first change after a load of
    /// 1M IPs took 7.9 ms appending them one by one, 6.3-6.7 ms so, most of it first touches
    /// of the log's memory.
    fn append_tail(&mut self, records: &LiveSet, end: Handle) {
        let tail = records.len() - self.len();
        if Self::crowded(self.entries.len() as u64 + tail, self.len() + tail) {
            self.squeeze();
        }
        let first = self.entries.len();
        self.entries.extend(records.iter_above(self.tail_from));
        // Below `NONE`: after a squeeze, the live entries are fewer than the handles.
        let from = u32::try_from(first).unwrap_or(NONE);
        let to = u32::try_from(self.entries.len()).unwrap_or(NONE);
        self.live.insert_run(from, to);
        // Up to the last handle appended: a log of some records may have none in its tail.
        if let Some(&last) = self.entries[first..].last() {
            self.at.resize(self.at.len().max(last as usize + 1), NONE);
        }
        for (pos, &h) in (from..).zip(&self.entries[first..]) {
            self.at[h as usize] = pos;
        }
        self.tail_from = end;
    }

    /// Starts loading the memory that a change of `handle` updates in place (its position).
    pub(crate) fn warm(&self, handle: Handle) {
        if let Some(at) = self.at.get(handle as usize) {
            crate::flat::prefetch(at);
        }
    }

    /// Drops the entry of `handle`, if it has one: its record changed, left the log's set, or
    /// is gone.
    pub(crate) fn remove(&mut self, handle: Handle) {
        if let Some(at) = self.at.get_mut(handle as usize) {
            let pos = std::mem::replace(at, NONE);
            if pos != NONE {
                let removed = self.live.remove(pos);
                debug_assert!(removed, "a handle's entry is live");
            }
        }
    }

    /// Appends an entry for `handle`, which has none.
    fn append(&mut self, handle: Handle) {
        debug_assert!(self.at.get(handle as usize).is_none_or(|&pos| pos == NONE));
        if Self::crowded(self.entries.len() as u64 + 1, self.len() + 1) {
            self.squeeze();
        }
        // Below `NONE`: after a squeeze, the live entries are fewer than the handles.
        let pos = u32::try_from(self.entries.len()).unwrap_or(NONE);
        debug_assert_ne!(pos, NONE, "the log outgrew its positions");
        self.entries.push(handle);
        self.live.insert(pos);
        let h = handle as usize;
        if h >= self.at.len() {
            self.at.resize(h + 1, NONE);
        }
        self.at[h] = pos;
    }

    /// Whether the log, grown to `entries` of which `live` live, must drop its stale ones
    /// first: when they would outnumber the live ones, or the positions run out.
    fn crowded(entries: u64, live: u64) -> bool {
        (entries > SQUEEZE_MIN as u64 && entries > 2 * live) || entries >= u64::from(NONE)
    }

    /// Drops the stale entries, keeping the order. O(entries).
    fn squeeze(&mut self) {
        let kept: Vec<Handle> = self.logged().collect();
        for (pos, &h) in (0..).zip(&kept) {
            self.at[h as usize] = pos;
        }
        let n = u32::try_from(kept.len()).expect("fewer live entries than positions");
        self.entries = kept;
        self.live = LiveSet::full(n);
    }

    /// The live entries' handles, in the log's order (the unlogged tail not included).
    fn logged(&self) -> impl Iterator<Item = Handle> + '_ {
        self.live.iter().map(|pos| self.entries[pos as usize])
    }

    /// Renumbers the log as a compaction renumbers the store: the handles of `live` (the
    /// store's live handles before it), in order, to `0..n`. One pass over the positions by
    /// handle, which keeps those of the live handles, and one writing each entry's new handle
    /// at its position; the stale entries stay, for the next squeeze, and the unlogged tail
    /// stays the tail, from the new number of its first handle. The log's set is renumbered
    /// by the store.
    pub(crate) fn compact(&mut self, live: &LiveSet) {
        // A live handle's new number is the number of live handles below it: its index once
        // the positions of the others are dropped.
        let mut old = 0;
        self.at.retain(|_| {
            old += 1;
            live.contains(old - 1)
        });
        for (h, &pos) in (0..).zip(&self.at) {
            if pos != NONE {
                self.entries[pos as usize] = h;
            }
        }
        self.tail_from =
            Handle::try_from(live.rank(self.tail_from)).expect("fewer live records than handles");
    }

    /// The handles of the log's set (`records`) in the log's order from the `from`-th on (from
    /// the last with `desc`): the log's live entries, then the tail.
    fn walk<'a>(
        &'a self,
        records: &'a LiveSet,
        desc: bool,
        from: u64,
    ) -> Box<dyn Iterator<Item = Handle> + 'a> {
        let logged = self.len();
        let tail = records.len() - logged;
        let entry = |pos: u32| self.entries[pos as usize];
        match (desc, from < logged, from < tail) {
            (false, true, _) => Box::new(
                self.live
                    .iter_from(false, from)
                    .map(entry)
                    .chain(records.iter_from(false, logged)),
            ),
            (false, false, _) => Box::new(records.iter_from(false, from)),
            (true, _, true) => Box::new(
                records
                    .iter_from(true, from)
                    .take(usize::try_from(tail - from).unwrap_or(usize::MAX))
                    .chain(self.live.iter_from(true, 0).map(entry)),
            ),
            (true, _, false) => Box::new(self.live.iter_from(true, from - tail).map(entry)),
        }
    }

    /// The page `start..start + size` of the matches in the log's order: by `time_of` their
    /// handles, ascending or (`desc`) descending, ties by handle in the same direction. The
    /// matches are the records of the log's set (`records`) that `member` holds
    /// (all of them without it), `count` of them, or (with `member`) at most `count`: the page
    /// is then short, or empty, when the walk runs out of them. `None` when the log would cost
    /// more than
    /// reading every match: a filter that leaves too few matches among the records to walk, or
    /// more than [`TIE_MAX`] records tied at one end of the page.
    ///
    /// Without a filter, the walk starts at the record before the page, found by the block
    /// counts: O(log length / 4,096 + page). With one, it starts at the end the order starts
    /// from, and gives up past four times the records it expects to walk. When the match before
    /// the page ties with its first, the tied ones are walked back from it; those tied with its
    /// last are walked on past it; and the page is sorted.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn page(
        &self,
        records: &LiveSet,
        time_of: impl Fn(Handle) -> i64,
        member: Option<&dyn Fn(Handle) -> bool>,
        count: u64,
        desc: bool,
        start: u64,
        size: usize,
    ) -> Option<Vec<Handle>> {
        let all = records.len();
        if start >= count || size == 0 || all == 0 {
            return Some(Vec::new());
        }
        let (from, budget) = match member {
            None => {
                debug_assert_eq!(count, all, "every live record is a match");
                // From the record before the page, to see whether it ties with the first.
                (start.saturating_sub(1), u64::MAX)
            }
            Some(_) => {
                // The records walked to pass the page's end, if the matches are spread evenly.
                let expected = start.saturating_add(size as u64).saturating_mul(all) / count;
                if expected > count {
                    return None;
                }
                (
                    0,
                    expected
                        .saturating_mul(4)
                        .saturating_add(SQUEEZE_MIN as u64),
                )
            }
        };
        let is_match = |h: Handle| member.is_none_or(|m| m(h));
        let mut to_skip = start - from;
        // The last match before the page.
        let mut previous = None;
        // Where the page's first match is in the walk's order of every live record.
        let mut first_rank = 0;
        let mut page: Vec<Handle> = Vec::with_capacity(size.min(1024));
        let mut after: Vec<Handle> = Vec::new();
        let mut last_time = None;
        for (walked, h) in (0..).zip(self.walk(records, desc, from)) {
            if walked >= budget {
                return None;
            }
            if !is_match(h) {
                continue;
            }
            if to_skip > 0 {
                to_skip -= 1;
                previous = Some(h);
                continue;
            }
            if page.len() < size {
                if page.is_empty() {
                    first_rank = from + walked;
                }
                page.push(h);
                continue;
            }
            // Past the page: the matches tied with its last.
            let last = *last_time.get_or_insert_with(|| time_of(page[page.len() - 1]));
            if time_of(h) != last {
                break;
            }
            if after.len() == TIE_MAX {
                return None;
            }
            after.push(h);
        }
        // Before the page, the matches tied with its first, if the last one before it is: the
        // walk the other way from the record before the page (the `r`-th of one way is the
        // `all - 1 - r`-th of the other).
        // The walk ran out before the page: `count` was a bound, and the matches are fewer.
        let Some(&first) = page.first() else {
            return Some(Vec::new());
        };
        let first = time_of(first);
        let tied_before = previous.is_some_and(|h| time_of(h) == first);
        let mut before = Vec::new();
        if tied_before {
            for (walked, h) in (0..).zip(self.walk(records, !desc, all - first_rank)) {
                if walked >= budget {
                    return None;
                }
                if !is_match(h) {
                    continue;
                }
                if time_of(h) != first {
                    break;
                }
                if before.len() == TIE_MAX {
                    return None;
                }
                before.push(h);
            }
        }
        let tied = before.len();
        let mut run: Vec<(i64, Handle)> = before
            .iter()
            .rev()
            .chain(&page)
            .chain(&after)
            .map(|&h| (time_of(h), h))
            .collect();
        if desc {
            run.sort_unstable_by(|a, b| b.cmp(a));
        } else {
            run.sort_unstable();
        }
        Some(
            run[tied..tied + page.len()]
                .iter()
                .map(|&(_, h)| h)
                .collect(),
        )
    }

    /// Checks the log against the records of its set (`records`, and `time_of` their times):
    /// one live entry for each below the tail and none from it
    /// on, all of them in time order, and the counts.
    pub(crate) fn check(
        &self,
        records: &LiveSet,
        time_of: impl Fn(Handle) -> i64,
    ) -> Result<(), String> {
        self.live.check()?;
        let mut tail = 0;
        for h in records.iter() {
            let pos = self.at.get(h as usize).copied().unwrap_or(NONE);
            let logged = pos != NONE
                && self.live.contains(pos)
                && self.entries.get(pos as usize) == Some(&h);
            if logged != (h < self.tail_from) {
                return Err(format!(
                    "handle {h} is {}in the log, which holds those below {}",
                    if logged { "" } else { "not " },
                    self.tail_from
                ));
            }
            tail += u64::from(!logged);
        }
        if self.len() + tail != records.len() {
            return Err(format!(
                "log has {} live entries and a tail of {tail} for {} records",
                self.len(),
                records.len()
            ));
        }
        for pos in self.live.iter() {
            let h = self.entries[pos as usize];
            if self.at.get(h as usize) != Some(&pos) {
                return Err(format!("log entry {pos} of handle {h} is not its own"));
            }
        }
        let mut last = i64::MIN;
        for (k, h) in self.walk(records, false, 0).enumerate() {
            let time = time_of(h);
            if time < last {
                return Err(format!(
                    "handle {h}, {k}th in the log's order, is out of order"
                ));
            }
            last = time;
        }
        let placed = self.at.iter().filter(|&&pos| pos != NONE).count();
        if placed as u64 != self.len() {
            return Err(format!(
                "log places {placed} handles for {} live entries",
                self.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log beside what it should hold: the live handles (as the store keeps them) and each
    /// one's update time.
    struct Logged {
        log: RecencyLog,
        records: LiveSet,
        times: Vec<Option<i64>>,
        now: i64,
    }

    impl Logged {
        fn new() -> Self {
            Self {
                log: RecencyLog::default(),
                records: LiveSet::default(),
                times: Vec::new(),
                now: 0,
            }
        }

        fn end(&self) -> Handle {
            Handle::try_from(self.times.len()).unwrap()
        }

        /// A new handle, at the clock's time: as in the store, the log is not told.
        fn book(&mut self) -> Handle {
            let h = self.end();
            self.times.push(Some(self.now));
            self.records.insert(h);
            h
        }

        /// A change of `h` now: the log moves it only when its time changes, as the store does.
        fn change(&mut self, h: Handle) {
            let time = self.times[h as usize].as_mut().unwrap();
            if *time != self.now {
                *time = self.now;
                let end = self.end();
                self.log.touch(h, &self.records, end);
            }
        }

        fn release(&mut self, h: Handle) {
            self.times[h as usize] = None;
            self.records.remove(h);
            self.log.remove(h);
        }

        fn live(&self) -> Vec<Handle> {
            self.records.iter().collect()
        }

        fn time_of(&self, h: Handle) -> i64 {
            self.times[h as usize].expect("a live handle")
        }

        fn check(&self) -> Result<(), String> {
            self.log.check(&self.records, |h| self.time_of(h))
        }

        /// The matches of `member` sorted as a list orders them.
        fn sorted(&self, member: &dyn Fn(Handle) -> bool, desc: bool) -> Vec<Handle> {
            let mut all: Vec<Handle> = self.live().into_iter().filter(|&h| member(h)).collect();
            all.sort_by_key(|&h| (self.time_of(h), h));
            if desc {
                all.reverse();
            }
            all
        }

        /// The log's page, checked against the sorted matches when the log gives one.
        fn page(
            &self,
            member: Option<&dyn Fn(Handle) -> bool>,
            desc: bool,
            start: u64,
            size: usize,
        ) -> Option<Vec<Handle>> {
            let every = |_| true;
            let expected = self.sorted(member.unwrap_or(&every), desc);
            let page = self.log.page(
                &self.records,
                |h| self.time_of(h),
                member,
                expected.len() as u64,
                desc,
                start,
                size,
            )?;
            let skip = usize::try_from(start).unwrap_or(usize::MAX);
            let want: Vec<Handle> = expected.into_iter().skip(skip).take(size).collect();
            assert_eq!(page, want, "desc {desc}, start {start}, size {size}");
            Some(page)
        }
    }

    #[test]
    fn pages_of_distinct_times_come_off_the_log_and_ties_at_their_ends_are_sorted() {
        let mut l = Logged::new();
        for i in 0..10_000 {
            // Runs of 1 to 6 handles booked in one microsecond.
            if i % 7 != 3 {
                l.now += 1;
            }
            l.book();
        }
        // Changes in reverse creation order, some in one microsecond, and releases.
        for h in (0..10_000).rev().step_by(3) {
            if h % 4 != 0 {
                l.now += 1;
            }
            l.change(h);
        }
        for h in (0..10_000).step_by(11) {
            l.release(h);
        }
        l.check().unwrap();
        let count = l.live().len() as u64;
        for desc in [false, true] {
            for start in [0, 1, 5, 99, 1000, 4321, count - 100, count - 1] {
                for size in [1, 3, 100] {
                    // Without a filter the log always serves the page.
                    assert!(l.page(None, desc, start, size).is_some());
                }
            }
            // With a filter that leaves a third of the entries, the first pages come off the
            // log; deep ones would walk too far for it.
            let third = |h: Handle| h % 3 == 1;
            assert!(l.page(Some(&third), desc, 0, 50).is_some());
            assert!(l.page(Some(&third), desc, 120, 7).is_some());
            assert_eq!(l.page(Some(&third), desc, 3000, 50), None);
            // A filter that leaves no entry: the walk gives up rather than read the whole log.
            let few = |h: Handle| h == 5;
            assert_eq!(l.page(Some(&few), desc, 0, 10), None);
        }
        // Starting past the matches is an empty page.
        assert_eq!(l.page(None, false, count, 10), Some(Vec::new()));
    }

    #[test]
    fn a_run_of_ties_longer_than_the_log_sorts_is_left_to_the_caller() {
        let mut l = Logged::new();
        // A clock that stands still for 3,000 bookings, then moves.
        for _ in 0..3000 {
            l.book();
        }
        for _ in 0..10 {
            l.now += 1;
            l.book();
        }
        l.check().unwrap();
        for desc in [false, true] {
            // Pages in the run, or ending in it, would sort more ties than it keeps.
            assert_eq!(l.page(None, desc, 1500, 10), None);
            assert_eq!(l.page(None, false, 2990, 20), None);
        }
        // The pages of distinct times at the top of the order still come off the log, up to
        // the last of the ten booked apart; one more reaches into the run.
        assert!(l.page(None, true, 0, 10).is_some());
        assert_eq!(l.page(None, true, 0, 11), None);
    }

    #[test]
    fn the_log_squeezes_its_stale_entries_and_renumbers_in_order() {
        let mut l = Logged::new();
        for _ in 0..5000 {
            l.now += 1;
            l.book();
        }
        // Changing every handle 3 times leaves 15,000 stale entries, but the log drops them
        // when they outnumber the live ones.
        for _ in 0..3 {
            for h in 0..5000 {
                l.now += 1;
                l.change(h);
            }
        }
        l.check().unwrap();
        assert!(
            l.log.entries.len() <= 2 * 5000 + 1,
            "{}",
            l.log.entries.len()
        );
        // A change within the same microsecond keeps the entry where it is.
        let before = l.log.entries.len();
        l.change(4999);
        assert_eq!(l.log.entries.len(), before);
        // Bookings after the last change follow the log unlogged, and pages read them.
        for _ in 0..300 {
            l.now += 1;
            l.book();
        }
        assert_eq!(l.log.len(), 5000);
        l.check().unwrap();
        assert!(l.page(None, true, 250, 100).is_some());
        assert!(l.page(None, false, 4950, 100).is_some());
        // Compacted without the released: every other handle, halved. The tail stays one.
        for h in (1..5300).step_by(2) {
            l.release(h);
        }
        let stale = l.log.entries.len();
        l.log.compact(&l.records);
        let renumbered = Logged {
            log: l.log,
            records: LiveSet::full(2650),
            times: (0..5300).step_by(2).map(|h| l.times[h]).collect(),
            now: l.now,
        };
        renumbered.check().unwrap();
        assert_eq!(renumbered.log.entries.len(), stale);
        assert_eq!(
            (renumbered.log.len(), renumbered.log.tail_from),
            (2500, 2500)
        );
        assert!(renumbered.page(None, true, 100, 100).is_some());
        assert!(renumbered.page(None, false, 2450, 100).is_some());
    }

    #[test]
    fn a_log_of_some_records_renumbers_as_the_compaction_does() {
        // The log's set is every third live record; the store's are `live`.
        let mut l = Logged::new();
        let mut live = LiveSet::default();
        // Records booked, the set's among them: its unlogged tail.
        let book = |l: &mut Logged, live: &mut LiveSet, handles: std::ops::Range<Handle>| {
            for h in handles {
                l.now += 1;
                live.insert(h);
                if h % 3 == 0 {
                    l.book();
                } else {
                    l.times.push(None);
                }
            }
        };
        book(&mut l, &mut live, 0..9000);
        // Changes of some of the set, the tail logged by the first.
        for h in (0..6000).step_by(6) {
            l.now += 1;
            l.change(h);
        }
        // Releases of some records in and out of the set; records booked after the changes
        // (so an unlogged tail again), one in three of them in the set.
        for h in (0..9000).step_by(5) {
            if h % 3 == 0 {
                l.release(h);
            }
            live.remove(h);
        }
        book(&mut l, &mut live, 9000..9300);
        l.check().unwrap();
        let kept: Vec<Handle> = live.iter().collect();
        let logged = l.log.len();
        l.log.compact(&live);
        // Renumbered: each record's new handle is its rank among the live ones (the store
        // renumbers the set itself).
        let expected: Vec<Handle> = (0..)
            .zip(&kept)
            .filter(|&(_, &h)| h % 3 == 0)
            .map(|(new, _)| new)
            .collect();
        let mut set = LiveSet::default();
        for &h in &expected {
            set.insert(h);
        }
        let renumbered = Logged {
            log: l.log,
            records: set,
            times: kept.iter().map(|&h| l.times[h as usize]).collect(),
            now: l.now,
        };
        renumbered.check().unwrap();
        // The tail stays the tail, from the new number of handle 9000.
        assert_eq!(renumbered.log.len(), logged);
        let below = kept.iter().filter(|&&h| h < 9000).count();
        assert_eq!(renumbered.log.tail_from as usize, below);
        for desc in [false, true] {
            assert!(renumbered.page(None, desc, 0, 100).is_some());
            assert!(renumbered.page(None, desc, 1500, 100).is_some());
        }
    }

    #[test]
    fn the_check_catches_a_log_out_of_step_with_the_records() {
        let mut l = Logged::new();
        for _ in 0..10 {
            l.now += 1;
            l.book();
        }
        l.check().unwrap();
        // A record changed without its entry moving: out of order.
        l.times[2] = Some(l.now + 1);
        assert!(l.check().is_err());
        l.times[2] = Some(3);
        // A record the log lost, and an entry for a record that is gone.
        l.change(0);
        l.log.remove(4);
        assert!(l.check().is_err());
        l.log.append(4);
        l.times[4] = Some(l.now);
        l.check().unwrap();
        l.records.remove(7);
        assert!(l.check().is_err());
        l.records.insert(7);
        // A booking the log holds an entry for, ahead of its change.
        let h = l.book();
        l.check().unwrap();
        l.log.append(h);
        assert!(l.check().is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Through bookings, changes and releases at times that often tie, every page the log
        /// gives (with or without a filter) is the page of the matches sorted.
        #[test]
        fn log_pages_are_the_sorted_pages(
            steps in proptest::collection::vec((0u8..4, 0u32..400, 0u8..3), 1..300),
            pages in proptest::collection::vec((proptest::bool::ANY, 0u64..400, 1usize..40, 0u32..4), 1..12),
        ) {
            let mut l = Logged::new();
            for (op, pick, tick) in steps {
                l.now += i64::from(tick == 0);
                let live = l.live();
                match op {
                    0 | 1 => {
                        l.book();
                    }
                    2 if !live.is_empty() => l.change(live[pick as usize % live.len()]),
                    _ if !live.is_empty() => l.release(live[pick as usize % live.len()]),
                    _ => {}
                }
            }
            proptest::prop_assert!(l.check().is_ok(), "{:?}", l.check());
            let count = l.live().len() as u64;
            for (desc, start, size, modulus) in pages {
                if modulus == 0 {
                    if start < count {
                        // `page` asserts the page is right; distinct times are not given here,
                        // so the log may leave a page of long ties to the caller.
                        l.page(None, desc, start, size);
                    }
                } else {
                    let member = move |h: Handle| h.is_multiple_of(modulus + 1);
                    let matches = l.sorted(&member, desc).len() as u64;
                    if start < matches {
                        l.page(Some(&member), desc, start, size);
                    }
                }
            }
        }
    }
}
