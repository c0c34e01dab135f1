//! What a provider's userinfo says of a person, mapped to our account's fields, as data.
//!
//! Pro Santé Connect (ANS, « Pro Santé Connect — documentation des données du userinfo »,
//! and the ANS's PSC proof of concept `ansforge/PSC-POC`, `psc-data.json`):
//! - `preferred_username` / `SubjectNameID`: the national identifier, its first digit the
//!   identifier's type — `8` then the 11-digit RPPS number; `0` then an ADELI number.
//! - `given_name`, `family_name`: the civil names.
//! - `SubjectRefPro.exercices[]`: one per profession practised, `codeProfession` from the
//!   nomenclature TRE_G15-ProfessionSante, each with `activities[]` whose
//!   `codeModeExercice` is from TRE_R23-ModeExercice (`L` libéral, `S` salarié,
//!   `B` bénévole).
//!
//! Any other provider: OpenID Connect Core § 5.1 (`given_name`, `family_name`, `name`,
//! `email`, `email_verified`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::settings::Profile;
use crate::identity::model::{ModeExercice, Profession, Rpps};

/// TRE_G15-ProfessionSante code → our profession (codes without a profession of ours,
/// such as orthoprothésiste, leave the typed profession as it is).
pub const PSC_PROFESSIONS: &[(&str, Profession)] = &[
    ("10", Profession::Medecin),
    ("21", Profession::Pharmacien),
    ("26", Profession::Audioprothesiste),
    ("28", Profession::OpticienLunetier),
    ("40", Profession::ChirurgienDentiste),
    ("50", Profession::SageFemme),
    ("60", Profession::Infirmier),
    ("69", Profession::Infirmier),
    ("70", Profession::MasseurKinesitherapeute),
    ("80", Profession::PedicurePodologue),
    ("86", Profession::TechnicienLaboratoire),
    ("91", Profession::Orthophoniste),
    ("92", Profession::Orthoptiste),
    ("94", Profession::Ergotherapeute),
    ("95", Profession::Dieteticien),
    ("96", Profession::Psychomotricien),
    ("98", Profession::ManipulateurElectroradiologie),
];

/// TRE_R23-ModeExercice code → our mode d'exercice (`B`, bénévole, has none).
pub const PSC_MODES: &[(&str, ModeExercice)] =
    &[("L", ModeExercice::Liberal), ("S", ModeExercice::Salarie)];

/// The type digit of a national identifier holding an RPPS number.
const RPPS_TYPE: char = '8';

/// A person as a provider vouches for them, in our terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub subject: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Only an address the provider says it verified (or PSC's, which are the directory's).
    pub email: Option<String>,
    /// The RPPS number the provider vouches for (PSC).
    pub rpps: Option<String>,
    pub profession_code: Option<String>,
    pub profession: Option<Profession>,
    pub mode_exercice: Option<ModeExercice>,
}

impl Identity {
    pub fn full_name(&self) -> Option<String> {
        let name = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!name.trim().is_empty()).then_some(name)
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The RPPS number in a PSC national identifier (`8` + 11 digits with a valid key).
pub fn rpps_of_national_id(id: &str) -> Option<String> {
    let number = id.strip_prefix(RPPS_TYPE)?;
    Rpps::parse(number).ok().map(|r| r.as_str().to_owned())
}

/// The modes of every activity of every exercise: one mode, or `Mixte` for several.
fn psc_mode(exercices: &[Value]) -> Option<ModeExercice> {
    let mut modes: Vec<ModeExercice> = exercices
        .iter()
        .flat_map(|e| e["activities"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| {
            let code = text(&a, "codeModeExercice")?;
            PSC_MODES.iter().find(|(c, _)| *c == code).map(|(_, m)| *m)
        })
        .collect();
    modes.dedup();
    match modes.as_slice() {
        [] => None,
        [one] => Some(*one),
        _ => Some(ModeExercice::Mixte),
    }
}

/// Maps a provider's `sub` and userinfo by its profile. `None`: the answer lacks what
/// identifies the person (PSC without a national identifier).
pub fn map(profile: Profile, subject: &str, userinfo: &Value) -> Option<Identity> {
    let first_name = text(userinfo, "given_name");
    let last_name = text(userinfo, "family_name");
    match profile {
        Profile::Psc => {
            let national =
                text(userinfo, "SubjectNameID").or_else(|| text(userinfo, "preferred_username"))?;
            let exercices = userinfo["SubjectRefPro"]["exercices"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let profession_code = exercices.iter().find_map(|e| text(e, "codeProfession"));
            let profession = profession_code.as_deref().and_then(|code| {
                PSC_PROFESSIONS
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map(|(_, p)| *p)
            });
            Some(Identity {
                subject: subject.to_owned(),
                first_name,
                last_name,
                email: text(userinfo, "email"),
                rpps: rpps_of_national_id(&national),
                profession_code,
                profession,
                mode_exercice: psc_mode(&exercices),
            })
        }
        Profile::Standard => {
            let verified = userinfo["email_verified"].as_bool() == Some(true);
            let (first_name, last_name) = match (first_name, last_name) {
                (None, None) => (None, text(userinfo, "name")),
                names => names,
            };
            Some(Identity {
                subject: subject.to_owned(),
                first_name,
                last_name,
                email: text(userinfo, "email").filter(|_| verified),
                rpps: None,
                profession_code: None,
                profession: None,
                mode_exercice: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A userinfo as PSC answers it (shape of `psc-data.json`, values invented).
    fn psc_userinfo() -> Value {
        json!({
            "sub": "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:ANS:810100000009",
            "preferred_username": "810000000009",
            "SubjectNameID": "810000000009",
            "given_name": "Camille",
            "family_name": "DURAND",
            "SubjectRefPro": { "codeCivilite": "MME", "exercices": [
                { "codeProfession": "60", "codeCategorieProfessionnelle": "C",
                  "activities": [ { "codeModeExercice": "S", "raisonSocialeSite": "CHU" } ] }
            ] },
            "SubjectOrganization": "CHU",
        })
    }

    #[test]
    fn psc_gives_the_rpps_without_its_type_digit_the_profession_and_the_mode() {
        let identity = map(Profile::Psc, "sub-1", &psc_userinfo()).unwrap();
        assert_eq!(identity.rpps.as_deref(), Some("10000000009"));
        assert_eq!(identity.profession, Some(Profession::Infirmier));
        assert_eq!(identity.profession_code.as_deref(), Some("60"));
        assert_eq!(identity.mode_exercice, Some(ModeExercice::Salarie));
        assert_eq!(identity.full_name().as_deref(), Some("Camille DURAND"));
        assert_eq!(identity.email, None);
    }

    #[test]
    fn an_adeli_identifier_or_a_wrong_key_gives_no_rpps() {
        assert_eq!(rpps_of_national_id("0751234567"), None);
        assert_eq!(rpps_of_national_id("810000000008"), None);
        assert_eq!(rpps_of_national_id("10000000009"), None);
        let mut info = psc_userinfo();
        info.as_object_mut().unwrap().remove("SubjectNameID");
        info.as_object_mut().unwrap().remove("preferred_username");
        assert_eq!(map(Profile::Psc, "s", &info), None);
    }

    #[test]
    fn several_modes_of_exercise_make_a_mixed_practice() {
        let exercices = json!([
            { "codeProfession": "10", "activities": [ { "codeModeExercice": "L" } ] },
            { "codeProfession": "10", "activities": [ { "codeModeExercice": "S" },
                                                       { "codeModeExercice": "B" } ] },
        ]);
        assert_eq!(
            psc_mode(exercices.as_array().unwrap()),
            Some(ModeExercice::Mixte)
        );
    }

    #[test]
    fn a_standard_provider_gives_its_address_only_when_it_verified_it() {
        let info =
            json!({ "name": "Alex Martin", "email": "alex@univ.fr", "email_verified": false });
        let identity = map(Profile::Standard, "u1", &info).unwrap();
        assert_eq!(identity.email, None);
        assert_eq!(identity.full_name().as_deref(), Some("Alex Martin"));
        let info = json!({ "email": "alex@univ.fr", "email_verified": true });
        let identity = map(Profile::Standard, "u1", &info).unwrap();
        assert_eq!(identity.email.as_deref(), Some("alex@univ.fr"));
    }
}
