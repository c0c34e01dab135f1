//! The learners table of a session page: search (name, e-mail, numbers; accents and case
//! aside), a filter by where each learner stands, a sort, and pages of 50, so a promotion
//! of 2,000 students stays readable on a phone. Pure functions over the roster lines.

use serde::Deserialize;

use crate::certificates::model::Validity;
use crate::enrolment::model::EnrolmentStatus;
use crate::reports::roster::RosterLine;

pub const PAGE: usize = 50;

/// What the table's form asks for (`?q=&statut=&tri=&page=`).
#[derive(Debug, Default, Deserialize)]
pub struct TableQuery {
    #[serde(default)]
    pub q: String,
    /// `en_cours`, `termine`, `attestation`, `retire`, or empty for all.
    #[serde(default)]
    pub statut: String,
    /// `nom` (default), `progression`, `temps`, `termine`, `activite`.
    #[serde(default)]
    pub tri: String,
    #[serde(default)]
    pub page: Option<usize>,
}

/// Lower case without accents or punctuation (`codes::fold`), for a search that finds
/// « Hélène » when « helene » is typed.
pub fn fold(text: &str) -> String {
    crate::codes::fold(text)
}

fn matches_status(line: &RosterLine, status: &str) -> bool {
    let active = line.status == EnrolmentStatus::Active;
    match status {
        "en_cours" => active && line.completed_at.is_none(),
        "termine" => active && line.completed_at.is_some(),
        "attestation" => line.certificate_status == Some(Validity::Valid),
        "retire" => !active,
        _ => true,
    }
}

fn matches_search(line: &RosterLine, words: &[String]) -> bool {
    let haystack = fold(&format!(
        "{} {} {} {} {}",
        line.name,
        line.email,
        line.student_number.as_deref().unwrap_or_default(),
        line.rpps.as_deref().unwrap_or_default(),
        line.adeli.as_deref().unwrap_or_default()
    ));
    words.iter().all(|w| haystack.contains(w.as_str()))
}

/// One page of the lines the query selects, how many it selects, and the page shown.
pub fn select<'a>(
    lines: &'a [RosterLine],
    query: &TableQuery,
) -> (Vec<&'a RosterLine>, usize, usize) {
    let words: Vec<String> = fold(&query.q)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut chosen: Vec<&RosterLine> = lines
        .iter()
        .filter(|l| matches_status(l, &query.statut) && matches_search(l, &words))
        .collect();
    let by_name = |a: &&RosterLine, b: &&RosterLine| fold(&a.name).cmp(&fold(&b.name));
    match query.tri.as_str() {
        "progression" => chosen.sort_by(|a, b| {
            b.progress_percent
                .cmp(&a.progress_percent)
                .then_with(|| by_name(a, b))
        }),
        "temps" => chosen.sort_by(|a, b| {
            b.active_seconds
                .cmp(&a.active_seconds)
                .then_with(|| by_name(a, b))
        }),
        // Most recent completions first; those not done at the end.
        "termine" => chosen.sort_by(|a, b| {
            b.completed_at
                .cmp(&a.completed_at)
                .then_with(|| by_name(a, b))
        }),
        "activite" => chosen.sort_by(|a, b| {
            b.last_activity
                .cmp(&a.last_activity)
                .then_with(|| by_name(a, b))
        }),
        _ => chosen.sort_by(by_name),
    }
    let total = chosen.len();
    let pages = total.div_ceil(PAGE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let shown = chosen
        .into_iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .collect();
    (shown, total, page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn line(name: &str, percent: u32, done: bool) -> RosterLine {
        let at = NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        RosterLine {
            enrolment_id: name.into(),
            name: name.into(),
            email: format!("{}@exemple.fr", fold(name).replace(' ', ".")),
            student_number: None,
            rpps: None,
            adeli: None,
            profession: "infirmier".into(),
            mode_exercice: None,
            status: EnrolmentStatus::Active,
            enrolled_at: at,
            progress_percent: percent,
            active_seconds: i64::from(percent) * 60,
            last_activity: None,
            pre_test: None,
            post_test: None,
            final_score: None,
            completed_at: done.then_some(at),
            certificate_code: None,
            certificate_status: None,
        }
    }

    #[test]
    fn search_ignores_accents_and_case_and_names_sort_as_french_readers_expect() {
        let lines = vec![
            line("Zoé Martin", 10, false),
            line("Élodie Durand", 100, true),
            line("Hélène Petit", 50, false),
        ];
        let q = TableQuery {
            q: "HELENE".into(),
            ..TableQuery::default()
        };
        let (shown, total, _) = select(&lines, &q);
        assert_eq!((total, shown[0].name.as_str()), (1, "Hélène Petit"));
        let (all, _, _) = select(&lines, &TableQuery::default());
        let names: Vec<&str> = all.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            ["Élodie Durand", "Hélène Petit", "Zoé Martin"],
            "É sorts with E, not after Z"
        );
    }

    #[test]
    fn filters_sorts_and_pages() {
        let lines: Vec<RosterLine> = (0..120)
            .map(|i| line(&format!("Apprenant {i:03}"), i % 101, i % 3 == 0))
            .collect();
        let done = TableQuery {
            statut: "termine".into(),
            ..TableQuery::default()
        };
        assert_eq!(select(&lines, &done).1, 40);
        let second = TableQuery {
            page: Some(2),
            ..TableQuery::default()
        };
        let (shown, total, page) = select(&lines, &second);
        assert_eq!((shown.len(), total, page), (50, 120, 2));
        assert_eq!(shown[0].name, "Apprenant 050");
        let last = TableQuery {
            page: Some(99),
            ..TableQuery::default()
        };
        let (shown, _, page) = select(&lines, &last);
        assert_eq!(
            (shown.len(), page),
            (20, 3),
            "a page past the end shows the last one"
        );
        let by_progress = TableQuery {
            tri: "progression".into(),
            ..TableQuery::default()
        };
        assert_eq!(select(&lines, &by_progress).0[0].progress_percent, 100);
    }
}
