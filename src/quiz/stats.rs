//! Item statistics over graded attempts, for the people who write and run the quizzes:
//! per question, how often it was drawn and answered, its facility (mean share of its
//! points earned) and its discrimination (the point-biserial correlation between the item
//! score and the rest of the attempt's score — Pearson's r, which is the point-biserial one
//! for a right/wrong item). Pure.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::grade::Grading;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ItemStatistics {
    pub question_id: String,
    /// Graded attempts in which the question was drawn.
    pub drawn: usize,
    /// Of those, how many answered it.
    pub answered: usize,
    /// Mean share of the points earned, 0–1.
    pub facility: Option<f64>,
    /// Point-biserial correlation with the rest score, −1–1; none below 2 attempts or
    /// without variance.
    pub discrimination: Option<f64>,
}

fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return None;
    }
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let vx: f64 = pairs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let vy: f64 = pairs.iter().map(|(_, y)| (y - my).powi(2)).sum();
    if vx <= f64::EPSILON || vy <= f64::EPSILON {
        return None;
    }
    Some(cov / (vx.sqrt() * vy.sqrt()))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn item_statistics(gradings: &[Grading]) -> Vec<ItemStatistics> {
    // Per question: (item score share, rest score share) per attempt, and answered count.
    type Scores = (Vec<(f64, f64)>, usize);
    let mut per_item: BTreeMap<&str, Scores> = BTreeMap::new();
    for grading in gradings {
        for result in &grading.results {
            let item = if result.points > 0.0 {
                result.awarded / result.points
            } else {
                0.0
            };
            let rest_max = grading.max_points - result.points;
            let rest = if rest_max > 0.0 {
                (grading.points - result.awarded) / rest_max
            } else {
                0.0
            };
            let entry = per_item.entry(&result.id).or_default();
            entry.0.push((item, rest));
            entry.1 += usize::from(result.answered);
        }
    }
    per_item
        .into_iter()
        .map(|(id, (pairs, answered))| ItemStatistics {
            question_id: id.to_owned(),
            drawn: pairs.len(),
            answered,
            facility: (!pairs.is_empty())
                .then(|| round3(pairs.iter().map(|p| p.0).sum::<f64>() / pairs.len() as f64)),
            discrimination: pearson(&pairs).map(round3),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quiz::grade::QuestionResult;

    fn attempt(results: &[(&str, f64)]) -> Grading {
        let results: Vec<QuestionResult> = results
            .iter()
            .map(|(id, awarded)| QuestionResult {
                id: id.to_string(),
                points: 1.0,
                awarded: *awarded,
                answered: true,
            })
            .collect();
        let points = results.iter().map(|r| r.awarded).sum();
        Grading {
            max_points: results.len() as f64,
            points,
            percent: 0.0,
            results,
        }
    }

    #[test]
    fn a_question_the_strong_get_right_and_the_weak_get_wrong_discriminates() {
        let gradings = vec![
            attempt(&[("good", 1.0), ("x", 1.0), ("y", 1.0), ("easy", 1.0)]),
            attempt(&[("good", 1.0), ("x", 1.0), ("y", 0.0), ("easy", 1.0)]),
            attempt(&[("good", 0.0), ("x", 0.0), ("y", 1.0), ("easy", 1.0)]),
            attempt(&[("good", 0.0), ("x", 0.0), ("y", 0.0), ("easy", 1.0)]),
        ];
        let stats = item_statistics(&gradings);
        let of = |id: &str| stats.iter().find(|s| s.question_id == id).unwrap();
        assert_eq!(of("good").facility, Some(0.5));
        assert!(of("good").discrimination.unwrap() > 0.5);
        assert_eq!(of("easy").facility, Some(1.0));
        assert_eq!(of("easy").discrimination, None, "no variance, no index");
        assert_eq!(of("easy").drawn, 4);
    }

    #[test]
    fn pearson_of_a_perfect_line_is_one() {
        let r = pearson(&[(0.0, 0.0), (1.0, 2.0), (2.0, 4.0)]).unwrap();
        assert!((r - 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[(1.0, 1.0)]), None);
    }
}
