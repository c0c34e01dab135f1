//! The faults that let a learner pass without learning, or a programme announce hours its
//! content does not back: pure rules over what the other checks built, reported as
//! warnings (`courses check --strict` refuses them).

use crate::catalog::model::{Bank, Choice, QuestionKind};

/// Above this share of single-choice items whose key is the longest option, length alone
/// scores a test-wise learner.
pub(super) const LONGEST_KEY_MAX_PERCENT: usize = 40;

/// Words per minute of careful reading, for the time a lesson's text takes.
pub(super) const READING_WORDS_PER_MINUTE: f64 = 150.0;

/// A lesson may announce this many minutes more than its reading and activities take.
pub(super) const LESSON_MINUTES_SLACK: u32 = 5;

/// A numeric item's prompt shorter than this sets no situation: it asks for a number to
/// recall.
pub(super) const NUMERIC_MIN_PROMPT_WORDS: usize = 20;

/// Words that, in a statement keyed false, give the answer away.
const ABSOLUTES: &[&str] = &[
    "uniquement",
    "toujours",
    "jamais",
    "seul",
    "seule",
    "seuls",
    "seules",
    "suffit",
    "suffisent",
    "suffisant",
    "suffisante",
    "inutile",
    "inutiles",
    "aucun",
    "aucune",
    "systématiquement",
    "forcément",
    "obligatoirement",
    "prouve",
    "exclusivement",
    "totalement",
    "entièrement",
    "tout à fait",
    "coûte que coûte",
    "en aucun cas",
    "nécessairement",
];

/// The absolute qualifier of a statement, if it has one (« ne … que » included).
pub(super) fn absolute_qualifier(statement: &str) -> Option<String> {
    let lower = statement.to_lowercase().replace('\u{2019}', "'");
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    for absolute in ABSOLUTES {
        let found = if absolute.contains(' ') {
            lower.contains(absolute)
        } else {
            words.contains(absolute)
        };
        if found {
            return Some((*absolute).to_owned());
        }
    }
    // « ne … que » / « n'… qu' »: a negation followed, within a few words, by « que ».
    for (i, w) in words.iter().enumerate() {
        let negation = *w == "ne" || w.starts_with("n'");
        if !negation {
            continue;
        }
        // « ne … que » restricts; « ne … pas … que » (« il n'est pas certain que ») does not.
        let window: Vec<&str> = words[i + 1..].iter().take(5).copied().collect();
        let Some(que) = window
            .iter()
            .position(|w| *w == "que" || w.starts_with("qu'"))
        else {
            continue;
        };
        let other_negation = window[..que].iter().any(|w| {
            matches!(
                *w,
                "pas" | "plus" | "jamais" | "rien" | "personne" | "guère" | "point"
            )
        });
        if !other_negation {
            return Some("ne … que".to_owned());
        }
    }
    None
}

pub(super) fn word_count(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

/// Why a numeric item is trivia, if it is.
pub(super) fn numeric_trivia(prompt: &str, unit: Option<&str>) -> Option<&'static str> {
    if unit.is_none_or(|u| u.trim().is_empty()) {
        Some("question numérique sans unité (unit)")
    } else if word_count(prompt) < NUMERIC_MIN_PROMPT_WORDS {
        Some("question numérique sans situation (moins de 20 mots) : un nombre à retenir n'évalue pas la compréhension")
    } else {
        None
    }
}

/// Whether the keyed choice is strictly longer than every other option.
pub(super) fn key_is_longest(choices: &[Choice], correct: &str) -> bool {
    let len = |c: &Choice| c.text.trim().chars().count();
    let Some(key) = choices.iter().find(|c| c.id == correct) else {
        return false;
    };
    choices.iter().all(|c| c.id == correct || len(c) < len(key))
}

/// The single-choice questions among `items` (question or vignette ids) whose key is the
/// longest option, and how many single-choice questions there are.
pub(super) fn longest_keys<'a>(bank: &'a Bank, items: &[&str]) -> (Vec<&'a str>, usize) {
    let questions = bank
        .questions
        .iter()
        .filter(|q| items.contains(&q.id.as_str()))
        .chain(
            bank.vignettes
                .iter()
                .filter(|v| items.contains(&v.id.as_str()))
                .flat_map(|v| &v.questions),
        );
    let mut longest = Vec::new();
    let mut single = 0;
    for q in questions {
        if let QuestionKind::SingleChoice { choices, correct } = &q.kind {
            single += 1;
            if key_is_longest(choices, correct) {
                longest.push(q.id.as_str());
            }
        }
    }
    (longest, single)
}

/// Whether `longest` of `single` items is over the limit.
pub(super) fn too_many_longest(longest: usize, single: usize) -> bool {
    single > 0 && longest * 100 > single * LONGEST_KEY_MAX_PERCENT
}

/// Minutes a text takes to read carefully.
pub(super) fn reading_minutes(words: usize) -> f64 {
    words as f64 / READING_WORDS_PER_MINUTE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(id: &str, text: &str) -> Choice {
        Choice {
            id: id.into(),
            text: text.into(),
        }
    }

    #[test]
    fn absolute_words_and_ne_que_are_found_not_their_lookalikes() {
        assert_eq!(
            absolute_qualifier("Le stress est uniquement lié au travail.").as_deref(),
            Some("uniquement")
        );
        assert_eq!(
            absolute_qualifier("On ne déclare que les agressions physiques.").as_deref(),
            Some("ne … que")
        );
        assert_eq!(
            absolute_qualifier("Il n'est utile qu'en cas de danger.").as_deref(),
            Some("ne … que")
        );
        assert_eq!(
            absolute_qualifier("Il n'est pas certain que le patient revienne."),
            None
        );
        assert_eq!(
            absolute_qualifier("Il ne faut pas croire que tout est réglé."),
            None
        );
        assert_eq!(
            absolute_qualifier("Un entretien suffit à régler le conflit.").as_deref(),
            Some("suffit")
        );
        // « seulement » is not « seul », « toujours » inside another word is not matched.
        assert_eq!(
            absolute_qualifier("La plainte peut être déposée par la victime."),
            None
        );
        assert_eq!(
            absolute_qualifier("Le cabinet est situé dans un quartier ancien."),
            None
        );
    }

    #[test]
    fn numeric_items_need_a_unit_and_a_situation() {
        assert!(numeric_trivia("Combien de dimensions ?", Some("dimensions")).is_some());
        assert!(numeric_trivia("Une longue situation ".repeat(10).as_str(), None).is_some());
        let situation = "Vous recevez un patient à 18 h 40 ; votre dernier rendez-vous finit à 19 h et vous devez rappeler trois patients avant de partir. Combien de minutes vous reste-t-il ?";
        assert_eq!(numeric_trivia(situation, Some("minutes")), None);
    }

    #[test]
    fn the_key_is_longest_only_when_strictly_longer_than_every_option() {
        let choices = [choice("a", "court"), choice("b", "nettement plus long")];
        assert!(key_is_longest(&choices, "b"));
        assert!(!key_is_longest(&choices, "a"));
        let tie = [choice("a", "même"), choice("b", "même")];
        assert!(!key_is_longest(&tie, "a"));
        assert!(!key_is_longest(&choices, "z"));
    }

    #[test]
    fn over_forty_percent_is_too_many() {
        assert!(!too_many_longest(4, 10));
        assert!(too_many_longest(5, 10));
        assert!(!too_many_longest(0, 0));
    }

    #[test]
    fn reading_counts_words_at_a_careful_pace() {
        assert_eq!(word_count("Un texte — de cinq mots !"), 5);
        assert_eq!(reading_minutes(1500), 10.0);
    }
}
