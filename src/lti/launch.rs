//! The LTI launch (1EdTech Security Framework § 5.1, OIDC third-party initiated login):
//! the platform starts a login here, we send the browser to its authentication endpoint
//! with a fresh `state` and `nonce` (kept 10 minutes, used once), the platform posts an
//! id_token back, which is verified against its keyset; then the LMS user and course are
//! linked to ours, in one transaction.

use chrono::{Duration, NaiveDateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::model::{self, launch_url, refused, with_query, LaunchClaims, Message};
use super::store::{self, Context, Login, Platform};
use crate::app::AppState;
use crate::db::{self, DbConn};
use crate::enrolment::service as enrolment;
use crate::error::AppError;
use crate::identity::model::{Profession, Role};
use crate::identity::service as identity;
use crate::identity::store::{self as accounts, Membership};
use crate::identity::tokens::random_token;

/// How long a login may take between its start and the launch.
pub const LOGIN_TTL: Duration = Duration::minutes(10);
/// Clock difference tolerated with platforms.
const LEEWAY_SECONDS: u64 = 60;

/// The third-party login initiation request (query string or form).
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub iss: Option<String>,
    pub login_hint: Option<String>,
    pub target_link_uri: Option<String>,
    pub lti_message_hint: Option<String>,
    pub client_id: Option<String>,
    pub lti_deployment_id: Option<String>,
}

/// The launch form the platform posts.
#[derive(Debug, Deserialize)]
pub struct LaunchForm {
    pub id_token: Option<String>,
    pub state: Option<String>,
}

/// Starts a login: the platform named by `iss` (and `client_id`), a state and a nonce
/// kept for [`LOGIN_TTL`]; returns the platform's authentication URL to send the browser
/// to, and the state (also set in a cookie where the browser keeps one).
pub fn begin_login(
    conn: &mut DbConn,
    public_url: &str,
    request: &LoginRequest,
) -> Result<(String, String), AppError> {
    let iss = request
        .iss
        .as_deref()
        .ok_or_else(|| AppError::invalid("iss", "obligatoire"))?;
    let login_hint = request
        .login_hint
        .as_deref()
        .ok_or_else(|| AppError::invalid("login_hint", "obligatoire"))?;
    if let Some(target) = &request.target_link_uri {
        if !target.starts_with(&format!("{public_url}/")) {
            return Err(AppError::invalid(
                "target_link_uri",
                "adresse hors de cette plateforme",
            ));
        }
    }
    let platforms = store::platforms_by_issuer(conn, iss, request.client_id.as_deref())?;
    let platform = match platforms.as_slice() {
        [one] => one,
        [] => {
            return Err(AppError::not_found(
                "Plateforme LTI inconnue : l'établissement doit d'abord l'enregistrer.",
            ))
        }
        _ => {
            return Err(AppError::invalid(
                "client_id",
                "plusieurs enregistrements pour cet émetteur : client_id obligatoire",
            ))
        }
    };
    let login = Login {
        state: random_token(),
        nonce: random_token(),
        platform_id: platform.id.clone(),
        expires_at: Utc::now().naive_utc() + LOGIN_TTL,
    };
    conn.write(|c| store::insert_login(c, &login))?;
    let mut params = vec![
        ("scope", "openid"),
        ("response_type", "id_token"),
        ("response_mode", "form_post"),
        ("prompt", "none"),
        ("client_id", platform.client_id.as_str()),
        ("login_hint", login_hint),
        ("state", login.state.as_str()),
        ("nonce", login.nonce.as_str()),
    ];
    let redirect_uri = launch_url(public_url);
    params.push(("redirect_uri", &redirect_uri));
    if let Some(hint) = &request.lti_message_hint {
        params.push(("lti_message_hint", hint));
    }
    let query = serde_urlencoded::to_string(&params)
        .map_err(|e| AppError::internal(anyhow::anyhow!("login query: {e}")))?;
    Ok((with_query(&platform.auth_url, &query), login.state))
}

/// A launch whose token holds.
pub struct Verified {
    pub platform: Platform,
    pub claims: LaunchClaims,
    pub message: Message,
}

fn token_error(kind: &ErrorKind) -> AppError {
    tracing::info!(error = ?kind, "LTI launch token refused");
    refused(match kind {
        ErrorKind::ExpiredSignature => "jeton expiré",
        ErrorKind::ImmatureSignature => "jeton pas encore valable",
        ErrorKind::InvalidAudience => "audience (aud) différente de notre client_id",
        ErrorKind::InvalidIssuer => "émetteur (iss) différent de la plateforme enregistrée",
        ErrorKind::InvalidSignature => "signature invalide",
        ErrorKind::MissingRequiredClaim(_) => "revendication obligatoire absente",
        ErrorKind::Json(_) => "revendications mal formées",
        _ => "id_token invalide",
    })
}

/// Verifies a launch: the login of its state (taken, so it serves once), the browser's
/// login cookies when it sent some (`started`: one of them must be this login's, or the
/// launch was started elsewhere — a login CSRF), the id_token's signature by a key of the platform's
/// keyset, its issuer, audience, expiry, and the claims [`LaunchClaims::check`] reads.
pub async fn verify(
    state: &AppState,
    form: LaunchForm,
    started: &[String],
) -> Result<Verified, AppError> {
    let token = form
        .id_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::invalid("id_token", "obligatoire"))?;
    let login_state = form
        .state
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::invalid("state", "obligatoire"))?;
    if !started.is_empty() && !started.contains(&login_state) {
        return Err(refused(
            "connexion (state) commencée dans un autre navigateur",
        ));
    }
    let taken = login_state.clone();
    let (login, platform, deployments) = db::run(&state.pool, move |conn| {
        let login = conn.write(|c| store::take_login(c, &taken))?;
        let Some(login) = login.filter(|l| l.expires_at > Utc::now().naive_utc()) else {
            return Ok(None);
        };
        let platform = store::platform(conn, &login.platform_id)?;
        let deployments = store::deployments(conn, &login.platform_id)?;
        Ok::<_, AppError>(platform.map(|p| (login, p, deployments)))
    })
    .await?
    .ok_or_else(|| refused("état (state) inconnu, expiré ou déjà utilisé"))?;
    let header = jsonwebtoken::decode_header(&token).map_err(|_| refused("id_token illisible"))?;
    if header.alg != Algorithm::RS256 {
        return Err(refused("algorithme de signature autre que RS256"));
    }
    let kid = header
        .kid
        .ok_or_else(|| refused("clé de signature non nommée (kid)"))?;
    let key = state
        .lti
        .key(&platform.jwks_url, &kid)
        .await
        .map_err(|e| AppError::unavailable(anyhow::anyhow!("platform keyset: {e}")))?
        .ok_or_else(|| refused("clé de signature inconnue de la plateforme (kid)"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&platform.issuer]);
    validation.set_audience(&[&platform.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    validation.leeway = LEEWAY_SECONDS;
    let claims = jsonwebtoken::decode::<LaunchClaims>(&token, &key, &validation)
        .map_err(|e| token_error(e.kind()))?
        .claims;
    let message = claims.check(
        &platform.client_id,
        &login.nonce,
        &deployments,
        Utc::now().timestamp(),
    )?;
    Ok(Verified {
        platform,
        claims,
        message,
    })
}

/// Where a launch leads once linked.
#[derive(Debug)]
pub enum Landing {
    /// A learner, to their enrolment (to one of its quizzes, for a quiz link).
    Learn {
        enrolment_id: String,
        quiz: Option<String>,
    },
    /// A teacher or administrator, to the session's page.
    Manage { session_id: String },
}

/// The linked account's id, its page-session epoch, and where it lands.
pub struct Linked {
    pub account_id: String,
    pub epoch: i32,
    pub landing: Landing,
}

/// Who the platform says a user is (a launch's claims, a roster's member).
pub struct LmsUser<'a> {
    pub sub: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<String>,
    pub role: Role,
}

/// The account of an LMS user: the one linked to (platform, `sub`), or a new one linked
/// now. Never found by e-mail (see `identity::service::create_vouched_account`).
pub(super) fn account_for(
    conn: &mut DbConn,
    platform: &Platform,
    user: &LmsUser<'_>,
    at: NaiveDateTime,
) -> Result<accounts::Account, AppError> {
    let (sub, role) = (user.sub, user.role);
    if let Some(id) = store::account_of(conn, &platform.id, sub)? {
        let account = accounts::account(conn, &id)?;
        if !account.is_active() {
            return Err(AppError::forbidden(
                "Ce compte est désactivé sur la plateforme de formation.",
            ));
        }
        return Ok(account);
    }
    let profession = if role == Role::Learner {
        Profession::Etudiant
    } else {
        Profession::Autre
    };
    let account =
        identity::create_vouched_account(conn, user.email, user.name.as_deref(), profession)?;
    store::insert_user(conn, &platform.id, sub, &account.id, at)?;
    accounts::audit(
        conn,
        Some(&account.id),
        "account.created_from_lti",
        Some(&platform.organisation_id),
        Some(&account.id),
        serde_json::json!({ "platform": platform.id }),
    )?;
    Ok(account)
}

/// Gives the account the launch's role in the registering organisation, or raises the one
/// it has (a role given on this site is never lowered by a launch).
pub(super) fn grant_role(
    conn: &mut DbConn,
    platform: &Platform,
    account_id: &str,
    role: Role,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let rank = |r: Role| match r {
        Role::Learner => 0,
        Role::Tutor => 1,
        Role::OrgAdmin => 2,
    };
    match accounts::membership(conn, &platform.organisation_id, account_id)? {
        None => accounts::insert_membership(
            conn,
            &Membership {
                organisation_id: platform.organisation_id.clone(),
                account_id: account_id.to_owned(),
                role,
                created_at: at,
            },
        )?,
        Some(m) if rank(m.role) < rank(role) => {
            accounts::set_role(conn, &platform.organisation_id, account_id, role)?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// The session an LMS course places `course` in: linked at the first teacher's launch.
fn context_for(
    conn: &mut DbConn,
    platform: &Platform,
    claims: &LaunchClaims,
    course: &str,
    role: Role,
    account_id: &str,
    at: NaiveDateTime,
) -> Result<Context, AppError> {
    let lms_course = claims
        .context
        .as_ref()
        .ok_or_else(|| refused("cours de la plateforme (context) absent"))?;
    if let Some(found) = store::context(conn, &platform.id, &lms_course.id, course)? {
        return Ok(found);
    }
    if role == Role::Learner {
        return Err(AppError::conflict(
            "Cette activité n'est pas encore ouverte : l'enseignant du cours doit l'ouvrir \
             une première fois.",
        ));
    }
    let title = lms_course
        .title
        .clone()
        .or_else(|| lms_course.label.clone())
        .unwrap_or_else(|| course.to_owned());
    let session =
        enrolment::open_for_platform(conn, &platform.organisation_id, course, &title, account_id)?;
    let context = Context {
        id: accounts::new_id(),
        platform_id: platform.id.clone(),
        context_id: lms_course.id.clone(),
        course_slug: course.to_owned(),
        session_id: session.id,
        title,
        lineitems_url: None,
        memberships_url: None,
        roster_synced_at: None,
        created_at: at,
    };
    store::insert_context(conn, &context)?;
    Ok(context)
}

/// Links a verified resource-link launch, in one transaction: the account (created on the
/// first launch), its role in the organisation, the LMS course's session (opened at the
/// first teacher's launch), the grade book's addresses, and a learner's enrolment.
pub fn link(conn: &mut DbConn, verified: &Verified) -> Result<Linked, AppError> {
    let (platform, claims) = (&verified.platform, &verified.claims);
    let course = claims.course().ok_or_else(|| {
        AppError::invalid(
            "course",
            "ce lien ne dit pas quelle formation ouvrir (paramètre personnalisé « course »)",
        )
    })?;
    let role = claims.role();
    let quiz = claims.custom_text("quiz");
    conn.write(|conn| {
        let at = Utc::now().naive_utc();
        let user = LmsUser {
            sub: claims.sub.as_deref().unwrap_or_default(),
            email: claims.email.as_deref(),
            name: claims.full_name(),
            role,
        };
        let account = account_for(conn, platform, &user, at)?;
        grant_role(conn, platform, &account.id, role, at)?;
        let context = context_for(conn, platform, claims, &course, role, &account.id, at)?;
        let ags = claims
            .ags
            .as_ref()
            .filter(|a| a.scope.iter().any(|s| s == model::SCOPE_SCORE));
        let lineitems = ags.and_then(|a| a.lineitems.clone());
        let memberships = claims
            .nrps
            .as_ref()
            .map(|n| n.context_memberships_url.clone());
        if (&lineitems, &memberships) != (&context.lineitems_url, &context.memberships_url) {
            store::set_services(
                conn,
                &context.id,
                lineitems.as_deref(),
                memberships.as_deref(),
            )?;
            // The grade book's columns, asked for once the platform offers the service.
            if context.lineitems_url.is_none() && lineitems.is_some() {
                let course = crate::catalog::store::current_version(conn, &course)?
                    .course()
                    .map_err(AppError::internal)?;
                super::grades::declare_columns(conn, &course, &context, at)?;
            }
        }
        // The link's own column in the grade book (deep linking asked for one): a quiz
        // link's is the quiz's, a course link's the completion's.
        if let Some(url) = ags.and_then(|a| a.lineitem.as_deref()) {
            let tag = quiz
                .as_deref()
                .map_or_else(|| model::COMPLETION_TAG.to_owned(), model::quiz_tag);
            store::set_line_item(conn, &context.id, &tag, url)?;
        }
        let landing = if role == Role::Learner {
            let enrolment = enrolment::enrol_from_platform(conn, &context.session_id, &account.id)?;
            Landing::Learn {
                enrolment_id: enrolment.id,
                quiz: quiz.clone(),
            }
        } else {
            Landing::Manage {
                session_id: context.session_id.clone(),
            }
        };
        Ok(Linked {
            account_id: account.id,
            epoch: account.page_session_epoch,
            landing,
        })
    })
}

/// Drops the logins never launched (run with the throttles' pruning).
pub fn prune(conn: &mut DbConn) -> Result<usize, AppError> {
    let before = Utc::now().naive_utc();
    Ok(conn.write(|c| store::prune_logins(c, before))?)
}

/// A platform of the organisation, for its admins (404 to anyone else).
pub fn platform_of(
    conn: &mut DbConn,
    organisation_id: &str,
    platform_id: &str,
) -> Result<Platform, AppError> {
    store::platform(conn, platform_id)?
        .filter(|p| p.organisation_id == organisation_id)
        .ok_or_else(|| AppError::not_found("Plateforme LTI introuvable."))
}
