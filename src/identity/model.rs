//! Identity domain types. Each newtype's only constructor checks its invariant, so the rest
//! of the code cannot hold a malformed e-mail, RPPS or SIRET. Error messages are French:
//! they reach the user inside problem documents.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::codes::code_list;
use crate::error::AppError;
use crate::http::Fields;

/// An e-mail address in one canonical form, so that two spellings a person cannot tell
/// apart are one account: trimmed, NFKC-normalised (fullwidth `ａ` is `a`), lower-cased,
/// the domain processed by IDNA (UTS #46). Look-alikes are refused (UTS #39): a local
/// part or a domain label that mixes scripts (a Cyrillic `а` among Latin letters), or
/// that uses a character confusable with another script's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        use unicode_normalization::UnicodeNormalization;
        let value: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        if value.is_empty() {
            return Err("adresse e-mail obligatoire".into());
        }
        let invalid = || "adresse e-mail invalide".to_string();
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        let ascii_domain = idna::domain_to_ascii(domain).map_err(|_| invalid())?;
        let (domain, checked) = idna::domain_to_unicode(&ascii_domain);
        checked.map_err(|_| invalid())?;
        if !unconfusable(local) || !domain.split('.').all(unconfusable) {
            return Err(
                "adresse e-mail refusée : elle mêle des caractères d'alphabets différents \
                 ou qui imitent des lettres latines"
                    .into(),
            );
        }
        let value = format!("{local}@{domain}");
        let address: lettre::Address = value.parse().map_err(|_| invalid())?;
        if !address.domain().contains('.') {
            return Err("adresse e-mail invalide : domaine incomplet".into());
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// ASCII, or letters of one script none of which imitates another script's (UTS #39).
fn unconfusable(part: &str) -> bool {
    use unicode_security::mixed_script::{is_potential_mixed_script_confusable_char, MixedScript};
    part.is_ascii()
        || (part.is_single_script()
            && !part
                .chars()
                .any(|c| !c.is_ascii() && is_potential_mixed_script_confusable_char(c)))
}

/// A password as typed, kept out of `Debug` output.
pub struct Password(String);

impl Password {
    /// ANSSI and OWASP guidance: length matters more than composition rules.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let length = raw.chars().count();
        if length < 12 {
            return Err("au moins 12 caractères".into());
        }
        if length > 128 {
            return Err("au plus 128 caractères".into());
        }
        let first = raw.chars().next().unwrap_or_default();
        if raw.chars().all(|c| c == first) {
            return Err("mot de passe trop simple".into());
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if value.is_empty() {
            return Err("nom complet obligatoire".into());
        }
        if value.chars().count() > 200 {
            return Err("au plus 200 caractères".into());
        }
        if value
            .chars()
            .any(|c| c.is_control() || "<>{}\\".contains(c))
        {
            return Err("caractères non autorisés".into());
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Standard Luhn check over every digit (the last one is the key).
fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn digits_only(raw: &str, len: usize, label: &str) -> Result<String, String> {
    let value: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{label} : {len} chiffres attendus"));
    }
    Ok(value)
}

/// Répertoire partagé des professionnels de santé: 11 digits, Luhn key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rpps(String);

impl Rpps {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = digits_only(raw, 11, "numéro RPPS")?;
        if !luhn_valid(&value) {
            return Err("numéro RPPS invalide (clé de contrôle)".into());
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// ADELI, the legacy directory: 9 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adeli(String);

impl Adeli {
    pub fn parse(raw: &str) -> Result<Self, String> {
        digits_only(raw, 9, "numéro ADELI").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudentNumber(String);

impl StudentNumber {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if value.is_empty()
            || value.len() > 32
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("numéro d'étudiant : 1 à 32 lettres, chiffres ou tirets".into());
        }
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SIRET: 14 digits, Luhn key (La Poste's establishments use their own rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Siret(String);

impl Siret {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = digits_only(raw, 14, "SIRET")?;
        let valid = if value.starts_with("356000000") {
            value
                .bytes()
                .map(|b| u32::from(b - b'0'))
                .sum::<u32>()
                .is_multiple_of(5)
        } else {
            luhn_valid(&value)
        };
        if !valid {
            return Err("SIRET invalide (clé de contrôle)".into());
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// UAI (ex-RNE) of a school: 7 digits and a check letter (the number modulo 23, over an
/// alphabet without I, O and Q).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uai(String);

impl Uai {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim().to_uppercase();
        if !value.is_ascii() || value.len() != 8 {
            return Err("UAI : 7 chiffres suivis d'une lettre attendus".into());
        }
        let (number, letter) = value.split_at(7);
        if number.len() != 7 || !number.bytes().all(|b| b.is_ascii_digit()) || letter.len() != 1 {
            return Err("UAI : 7 chiffres suivis d'une lettre attendus".into());
        }
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
        let expected = ALPHABET[(number.parse::<u32>().expect("digits") % 23) as usize] as char;
        if !letter.starts_with(expected) {
            return Err("UAI invalide (lettre de contrôle)".into());
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Registration number of a DPC training body (ODPC) at the ANDPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdpcNumber(String);

impl OdpcNumber {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if !(4..=5).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err("numéro ODPC : 4 ou 5 chiffres attendus".into());
        }
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registration as sent, to the API as JSON or from the sign-up page's form: every field
/// as typed, none checked yet. [`NewAccount::try_from`] parses it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: Option<String>,
    /// At least 12 characters.
    pub password: Option<String>,
    /// The name as shown; made of `first_name` and `last_name` when it is not given.
    #[serde(default)]
    pub full_name: Option<String>,
    /// First name and last name apart (certificates and DPC declarations need them).
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    /// `medecin`, `infirmier`, `pharmacien`, `chirurgien_dentiste`, `sage_femme`, … `etudiant`.
    pub profession: Option<String>,
    /// 11 digits with a Luhn key.
    pub rpps: Option<String>,
    /// 9 digits.
    pub adeli: Option<String>,
    pub student_number: Option<String>,
    /// `liberal`, `salarie`, `mixte`, `service_sante_armees`.
    pub mode_exercice: Option<String>,
}

/// A registration whose every field is valid: what `service::register` creates an account from.
pub struct NewAccount {
    pub email: Email,
    pub password: Password,
    pub full_name: FullName,
    /// Apart, when given.
    pub names: Option<(FullName, FullName)>,
    pub profession: Profession,
    pub rpps: Option<Rpps>,
    pub adeli: Option<Adeli>,
    pub student_number: Option<StudentNumber>,
    pub mode_exercice: Option<ModeExercice>,
}

impl TryFrom<RegisterRequest> for NewAccount {
    type Error = AppError;

    /// Parses every field, naming each invalid one.
    fn try_from(raw: RegisterRequest) -> Result<Self, AppError> {
        let mut f = Fields::new();
        let email = f.required("email", raw.email.as_deref(), Email::parse);
        let password = f.required("password", raw.password.as_deref(), Password::parse);
        // First and last name apart, or the full name alone (API clients written before).
        let part = |raw: Option<&str>, what: &str| {
            let text = raw.map(str::trim).unwrap_or_default();
            if text.is_empty() {
                Err(format!("{what} obligatoire"))
            } else {
                FullName::parse(text)
            }
        };
        let apart = raw.first_name.is_some() || raw.last_name.is_some() || raw.full_name.is_none();
        let names = if apart {
            let first = f.check("first_name", part(raw.first_name.as_deref(), "prénom"));
            let last = f.check("last_name", part(raw.last_name.as_deref(), "nom"));
            first.zip(last)
        } else {
            None
        };
        let full_name = match (&raw.full_name, &names) {
            (Some(full), _) => f.required("full_name", Some(full), FullName::parse),
            (None, Some((first, last))) => {
                FullName::parse(&format!("{} {}", first.as_str(), last.as_str())).ok()
            }
            (None, None) => None,
        };
        let profession = f.required("profession", raw.profession.as_deref(), Profession::parse);
        let rpps = f.optional("rpps", raw.rpps.as_deref(), Rpps::parse);
        let adeli = f.optional("adeli", raw.adeli.as_deref(), Adeli::parse);
        let student_number = f.optional(
            "student_number",
            raw.student_number.as_deref(),
            StudentNumber::parse,
        );
        let mode_exercice = f.optional(
            "mode_exercice",
            raw.mode_exercice.as_deref(),
            ModeExercice::parse,
        );
        f.finish()?;
        Ok(NewAccount {
            email: email.expect("checked"),
            password: password.expect("checked"),
            full_name: full_name.expect("checked"),
            names,
            profession: profession.expect("checked"),
            rpps,
            adeli,
            student_number,
            mode_exercice,
        })
    }
}

code_list!(
    /// The health professions of the Code de la santé publique, and students.
    Profession, "profession" {
    Medecin = "medecin": "Médecin",
    ChirurgienDentiste = "chirurgien_dentiste": "Chirurgien-dentiste",
    SageFemme = "sage_femme": "Sage-femme",
    Pharmacien = "pharmacien": "Pharmacien",
    Infirmier = "infirmier": "Infirmier",
    MasseurKinesitherapeute = "masseur_kinesitherapeute": "Masseur-kinésithérapeute",
    PedicurePodologue = "pedicure_podologue": "Pédicure-podologue",
    Ergotherapeute = "ergotherapeute": "Ergothérapeute",
    Psychomotricien = "psychomotricien": "Psychomotricien",
    Orthophoniste = "orthophoniste": "Orthophoniste",
    Orthoptiste = "orthoptiste": "Orthoptiste",
    ManipulateurElectroradiologie = "manipulateur_electroradiologie": "Manipulateur d'électroradiologie médicale",
    TechnicienLaboratoire = "technicien_laboratoire": "Technicien de laboratoire médical",
    Audioprothesiste = "audioprothesiste": "Audioprothésiste",
    OpticienLunetier = "opticien_lunetier": "Opticien-lunetier",
    Dieteticien = "dieteticien": "Diététicien",
    PreparateurPharmacie = "preparateur_pharmacie": "Préparateur en pharmacie",
    AideSoignant = "aide_soignant": "Aide-soignant",
    AuxiliairePuericulture = "auxiliaire_puericulture": "Auxiliaire de puériculture",
    Ambulancier = "ambulancier": "Ambulancier",
    Etudiant = "etudiant": "Étudiant",
    Autre = "autre": "Autre (personnel non soignant)",
});

/// Other names a profession goes by in files: abbreviations, specialties, older titles.
/// Compared after [`profession_key`], like the codes and labels.
const PROFESSION_ALIASES: &[(Profession, &[&str])] = &[
    (
        Profession::Medecin,
        &[
            "docteur en médecine",
            "médecin généraliste",
            "médecin spécialiste",
            "généraliste",
        ],
    ),
    (Profession::ChirurgienDentiste, &["dentiste"]),
    (Profession::SageFemme, &["maïeuticien"]),
    (Profession::Pharmacien, &["docteur en pharmacie"]),
    (
        Profession::Infirmier,
        &[
            "IDE",
            "IDEL",
            "infirmier diplômé d'État",
            "IBODE",
            "IADE",
            "IPA",
            "puéricultrice",
        ],
    ),
    (
        Profession::MasseurKinesitherapeute,
        &["kiné", "kinésithérapeute", "masseur kiné", "MK"],
    ),
    (Profession::PedicurePodologue, &["podologue"]),
    (
        Profession::ManipulateurElectroradiologie,
        &["manipulateur radio", "manip radio", "MERM"],
    ),
    (
        Profession::TechnicienLaboratoire,
        &["technicien de laboratoire"],
    ),
    (Profession::OpticienLunetier, &["opticien"]),
    (Profession::PreparateurPharmacie, &["préparateur"]),
    (Profession::AideSoignant, &["AS"]),
    (Profession::Etudiant, &["élève", "ESI"]),
];

/// Words that say nothing about a profession (« technicien de laboratoire »).
const PROFESSION_STOPWORDS: &[&str] = &["d", "de", "du", "des", "en", "et", "l", "la", "le"];

/// Feminine and inclusive suffixes written after a `(`, `·`, `.` or `/`:
/// « aide-soignant(e) », « infirmier·ère », « étudiant.e ».
const INCLUSIVE_SUFFIXES: &[&str] = &[
    "e", "ne", "ère", "ere", "se", "euse", "rice", "trice", "ienne", "ière", "iere",
];

/// A profession as written, reduced to the words that name it, in the masculine, without
/// case, accents, punctuation, inclusive suffixes or articles; joined with no space, so
/// « Masseur-kinésithérapeute », « masseuse kinésithérapeute » and `masseur_kinesitherapeute`
/// meet. The second key keeps the articles (« I.D.E » is not « i » « e »).
fn profession_key(raw: &str) -> (String, String) {
    let lower = raw.to_lowercase();
    let mut plain = String::with_capacity(lower.len());
    let mut chars = lower.chars().peekable();
    while let Some(c) = chars.next() {
        // A word of three letters at least before the mark: « I.D.E » keeps its letters.
        let after_word = plain
            .chars()
            .rev()
            .take_while(|c| c.is_alphabetic())
            .count()
            >= 3;
        if c == '(' {
            // A bracketed remark or feminine form: « (e) », « (IDE) », « (personnel …) ».
            for skipped in chars.by_ref() {
                if skipped == ')' {
                    break;
                }
            }
            continue;
        }
        if matches!(c, '·' | '.' | '/' | '•') && after_word {
            let rest: String = chars.clone().take_while(|c| c.is_alphabetic()).collect();
            if INCLUSIVE_SUFFIXES.contains(&rest.as_str()) {
                for _ in 0..rest.chars().count() {
                    chars.next();
                }
                continue;
            }
        }
        plain.push(c);
    }
    let mut words: Vec<String> = Vec::new();
    for word in crate::codes::fold(&plain).split(' ') {
        let masculine = masculine(word);
        if words.last() != Some(&masculine) && !masculine.is_empty() {
            words.push(masculine);
        }
    }
    let full = words.concat();
    let short = words
        .iter()
        .filter(|w| !PROFESSION_STOPWORDS.contains(&w.as_str()))
        .map(String::as_str)
        .collect();
    (short, full)
}

/// The masculine form of a folded word, for the endings professions use.
fn masculine(word: &str) -> String {
    for (feminine, masculine) in [
        ("iere", "ier"),
        ("ienne", "ien"),
        ("trice", "teur"),
        ("euse", "eur"),
        ("ante", "ant"),
        ("ee", "e"),
    ] {
        if let Some(stem) = word.strip_suffix(feminine) {
            if !stem.is_empty() {
                return format!("{stem}{masculine}");
            }
        }
    }
    word.to_owned()
}

impl Profession {
    /// A profession as people write it in a file: the label or the code, feminine or
    /// inclusive forms, abbreviations (« IDE », « kiné »), case, accents, hyphens and
    /// spaces aside. Anything starting with « étudiant » is a student. The error lists
    /// the labels, in French.
    pub fn from_label(raw: &str) -> Result<Self, String> {
        let (short, full) = profession_key(raw);
        let same = |name: &str| {
            let (s, f) = profession_key(name);
            (!short.is_empty() && s == short) || (!full.is_empty() && f == full)
        };
        let aliases = |p: Profession| {
            PROFESSION_ALIASES
                .iter()
                .filter(move |(of, _)| *of == p)
                .flat_map(|(_, names)| names.iter().copied())
        };
        Self::ALL
            .iter()
            .copied()
            .find(|p| same(p.label()) || same(p.code()) || aliases(*p).any(same))
            .or_else(|| short.starts_with("etudiant").then_some(Self::Etudiant))
            .ok_or_else(|| {
                let labels: Vec<&str> = Self::ALL.iter().map(|p| p.label()).collect();
                let shown: String = raw.trim().chars().take(60).collect();
                format!(
                    "profession « {shown} » non reconnue ; professions acceptées : {}",
                    labels.join(", ")
                )
            })
    }
}

code_list!(ModeExercice, "mode d'exercice" {
    Liberal = "liberal": "Libéral",
    Salarie = "salarie": "Salarié",
    Mixte = "mixte": "Mixte",
    ServiceSanteArmees = "service_sante_armees": "Service de santé des armées",
});

code_list!(OrgKind, "type d'organisation" {
    University = "university": "Université",
    NursingSchool = "nursing_school": "Institut de formation en soins infirmiers",
    TrainingBody = "training_body": "Organisme de DPC",
    Platform = "platform": "Plateforme",
});

code_list!(
    /// A member's role inside one organisation.
    Role, "rôle" {
    Learner = "learner": "Apprenant",
    Tutor = "tutor": "Tuteur",
    OrgAdmin = "org_admin": "Administrateur de l'organisation",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lower_cased_and_checked() {
        assert_eq!(
            Email::parse("  Zoe.Martin@CHU-Lyon.fr ").unwrap().as_str(),
            "zoe.martin@chu-lyon.fr"
        );
        for bad in [
            "",
            "zoe",
            "zoe@",
            "@chu.fr",
            "zoe martin@chu.fr",
            "zoe@localhost",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn look_alike_addresses_are_refused_or_folded_into_the_real_one() {
        // Fullwidth letters and the Kelvin sign are the ASCII ones once normalised.
        assert_eq!(
            Email::parse("ａdmin@demo.qvt-campus.fr").unwrap().as_str(),
            "admin@demo.qvt-campus.fr"
        );
        assert_eq!(
            Email::parse("\u{212a}im@chu.fr").unwrap().as_str(),
            "kim@chu.fr"
        );
        // A Cyrillic « а » in the local part or the domain.
        for bad in [
            "\u{430}dmin@demo.qvt-campus.fr",
            "admin@demo.qvt-c\u{430}mpus.fr",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        // Accents are one script with the rest: a French address stays as typed.
        assert_eq!(
            Email::parse("Zoé.Lefèvre@hôpital-exemple.fr")
                .unwrap()
                .as_str(),
            "zoé.lefèvre@hôpital-exemple.fr"
        );
    }

    #[test]
    fn rpps_needs_eleven_digits_and_a_valid_luhn_key() {
        assert!(Rpps::parse("10000000009").is_ok());
        assert_eq!(
            Rpps::parse("100 0000 0009").unwrap().as_str(),
            "10000000009"
        );
        assert!(Rpps::parse("10000000008").unwrap_err().contains("clé"));
        assert!(Rpps::parse("1000000000")
            .unwrap_err()
            .contains("11 chiffres"));
        assert!(Rpps::parse("1000000000A").is_err());
    }

    #[test]
    fn luhn_matches_known_numbers() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
    }

    #[test]
    fn siret_uses_luhn_and_la_poste_has_its_own_rule() {
        assert!(Siret::parse("73282932000074").is_ok());
        assert!(Siret::parse("73282932000075").is_err());
        assert!(Siret::parse("35600000000001").is_ok());
        assert!(Siret::parse("123").is_err());
    }

    #[test]
    fn uai_check_letter() {
        assert_eq!(Uai::parse("0751717j").unwrap().as_str(), "0751717J");
        assert!(Uai::parse("0751717K").is_err());
        assert!(Uai::parse("075171J").is_err());
        assert!(
            Uai::parse("012345é").is_err(),
            "multi-byte input must not panic"
        );
    }

    #[test]
    fn passwords_are_long_and_never_printed() {
        assert!(Password::parse("court").is_err());
        assert!(Password::parse(&"a".repeat(20)).is_err());
        let p = Password::parse("correct cheval agrafe").unwrap();
        assert!(!format!("{p:?}").contains("cheval"));
    }

    #[test]
    fn closed_lists_parse_their_codes_and_name_the_choices() {
        assert_eq!(
            Profession::parse("sage_femme").unwrap(),
            Profession::SageFemme
        );
        assert_eq!(Profession::SageFemme.label(), "Sage-femme");
        let err = Profession::parse("sorcier").unwrap_err();
        assert!(err.contains("medecin") && err.contains("etudiant"), "{err}");
        assert_eq!(Role::parse("org_admin").unwrap(), Role::OrgAdmin);
        assert!(ModeExercice::parse("libéral").is_err());
    }

    #[test]
    fn professions_are_read_as_people_write_them() {
        let cases = [
            ("Infirmier", Profession::Infirmier),
            ("Infirmière", Profession::Infirmier),
            ("INFIRMIERE", Profession::Infirmier),
            ("infirmier·ère", Profession::Infirmier),
            ("Infirmier/Infirmière", Profession::Infirmier),
            ("IDE", Profession::Infirmier),
            ("I.D.E.", Profession::Infirmier),
            ("Médecin", Profession::Medecin),
            ("medecin generaliste", Profession::Medecin),
            (
                "Masseur-kinésithérapeute",
                Profession::MasseurKinesitherapeute,
            ),
            (
                "masseuse kinesitherapeute",
                Profession::MasseurKinesitherapeute,
            ),
            ("kiné", Profession::MasseurKinesitherapeute),
            ("Sage-femme", Profession::SageFemme),
            ("sage femme", Profession::SageFemme),
            ("Pharmacien", Profession::Pharmacien),
            ("Pharmacienne", Profession::Pharmacien),
            ("Chirurgien-dentiste", Profession::ChirurgienDentiste),
            ("chirurgienne dentiste", Profession::ChirurgienDentiste),
            ("Aide-soignant(e)", Profession::AideSoignant),
            ("aide soignante", Profession::AideSoignant),
            ("Étudiant(e)", Profession::Etudiant),
            ("étudiante en soins infirmiers", Profession::Etudiant),
            ("étudiant.e", Profession::Etudiant),
            (
                "Manipulatrice d'électroradiologie médicale",
                Profession::ManipulateurElectroradiologie,
            ),
            (
                "technicienne de laboratoire",
                Profession::TechnicienLaboratoire,
            ),
            (
                "Préparatrice en pharmacie",
                Profession::PreparateurPharmacie,
            ),
            (
                "Auxiliaire de puériculture",
                Profession::AuxiliairePuericulture,
            ),
            ("Ambulancière", Profession::Ambulancier),
            ("Diététicienne", Profession::Dieteticien),
            ("Autre (personnel non soignant)", Profession::Autre),
            // The codes the API uses still work.
            (
                "masseur_kinesitherapeute",
                Profession::MasseurKinesitherapeute,
            ),
            ("etudiant", Profession::Etudiant),
        ];
        for (written, expected) in cases {
            assert_eq!(Profession::from_label(written), Ok(expected), "{written}");
        }
        for profession in Profession::ALL {
            assert_eq!(Profession::from_label(profession.label()), Ok(*profession));
        }
    }

    #[test]
    fn an_unknown_profession_is_refused_with_the_french_labels() {
        let err = Profession::from_label("Sorcier").unwrap_err();
        assert!(
            err.starts_with("profession « Sorcier » non reconnue ; professions acceptées : Médecin, Chirurgien-dentiste, Sage-femme,"),
            "{err}"
        );
        assert!(
            err.contains("Masseur-kinésithérapeute") && err.contains("Étudiant"),
            "{err}"
        );
        assert!(
            !err.contains("chirurgien_dentiste"),
            "no developer codes: {err}"
        );
        assert!(Profession::from_label("").is_err());
        assert!(Profession::from_label("()").is_err());
        assert!(Profession::from_label("de la").is_err());
    }

    #[test]
    fn full_names_are_tidied() {
        assert_eq!(
            FullName::parse("  Zoé   Martin ").unwrap().as_str(),
            "Zoé Martin"
        );
        assert!(FullName::parse("   ").is_err());
        assert!(FullName::parse("<script>").is_err());
    }
}
