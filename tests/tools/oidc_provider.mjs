// Test double of "Pro Santé Connect" (PSC), the French health professionals' OpenID
// Connect provider, built on the real `oidc-provider` package (9.13.3) for the relying
// party's integration tests. Nothing here is fit for production.
//
// Install:  mkdir -p target/oidc && cd target/oidc &&
//           npm install --silent --no-audit --no-fund oidc-provider@9.13.3 jose@6.2.19
// Run:      node tests/tools/oidc_provider.mjs   (env OIDC_MODULES = the node_modules
//           dir holding the packages; default <repo>/target/oidc/node_modules)
//
// Contract: listens on 127.0.0.1 on a free port, prints exactly one stdout line
// `http://127.0.0.1:<port>` (that is also the issuer, no trailing slash), logs on stderr.
// Until POST /test/setup every OIDC route answers 503. Control endpoints (JSON bodies):
//   GET  /test/health             200 "ok", always
//   POST /test/setup              {client_id, client_secret, redirect_uris, backchannel_logout_uri?,
//                                  signed_userinfo} -> builds the provider and its one client; 204
//   GET  /test/accounts           the test practitioners (sub, rpps, names, email, codes)
//   POST /test/next-login         {sub} -> the next interaction completes at once for sub (once)
//   POST /test/mode               {mode} -> one-shot fault on the next token response's id_token:
//                                  unknown-key | wrong-audience | expired | wrong-issuer (re-signed)
//                                  | replay (the previous exchange's genuine id_token) | normal
//   POST /test/rotate-key         signs with a new key "psc-key-2" from now on, still publishes
//                                  "psc-key-1" (the provider is rebuilt over the same store, so
//                                  sessions, grants and tokens survive)
//   POST /test/backchannel-logout {sub} -> a real logout_token to the client's
//                                  backchannel_logout_uri; 204 if the RP said 2xx, else 502
// Interaction (login + consent in one): GET /interaction/:uid shows a form (field `login` =
// national identifier); POST completes it and grants every requested scope.
//
// Test practitioners: RPPS numbers are 11 digits whose full string passes Luhn, taken in the
// 997... range that ANS uses for fictitious test practitioners; sub = "8" + RPPS:
//   899700001011  Jean MARTIN      médecin (10), libéral (L),   jean.martin@exemple-sante.fr
//   899700002027  Claire DURAND    infirmière (60), salariée (S), claire.durand@exemple-sante.fr
//   899700003033  Paul LEROY       pharmacien (21), libéral (L), no email claim
// Claim names follow real PSC userinfo (ANS samples): note `codeSecteurDactivite` and
// `autoriteDenregistrement` (lower-case after the D), `otherIds`, `SubjectRole` "10^1.2...".
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const modules = path.resolve(process.env.OIDC_MODULES || path.join(repo, 'target', 'oidc', 'node_modules'));
const resolver = createRequire(path.join(modules, 'resolve-from-here.js'));
const load = (name) => import(pathToFileURL(resolver.resolve(name)).href);
const { default: Provider } = await load('oidc-provider');
const jose = await load('jose');
// One in-memory store shared by every Provider built here, so that sessions, grants and
// tokens survive the rebuild done by /test/rotate-key.
const { createMemoryAdapter } = await load('oidc-provider/lib/adapters/memory_adapter.js');
const sharedAdapter = createMemoryAdapter();

const log = (...a) => console.error('[psc]', ...a);
const PSC_CLAIMS = ['preferred_username', 'SubjectNameID', 'given_name', 'family_name', 'email',
  'email_verified', 'SubjectRefPro', 'SubjectOrganization', 'SubjectOrganizationID', 'SubjectRole',
  'otherIds', 'Secteur_Activite', 'Mode_Acces_Raison', 'Acces_Regulation_Medicale', 'UITVersion',
  'Palier_Authentification', 'PSI_Locale'];
const FAULTS = new Set(['unknown-key', 'wrong-audience', 'expired', 'replay', 'wrong-issuer']);

function practitioner({ rpps, civ, given, family, email, profession, mode, site }) {
  const idNat = `8${rpps}`;
  const activity = {
    codeModeExercice: mode, codeSecteurDactivite: 'SA07', codeSectionPharmacien: profession === '21' ? 'A' : '',
    codeRole: '', codeGenreActivite: 'GENR01', numeroSiretSite: '', numeroSirenSite: '', numeroFinessSite: '',
    numeroFinessetablissementJuridique: '', identifiantTechniqueDeLaStructure: '', raisonSocialeSite: site,
    enseigneCommercialeSite: '', complementDestinataire: '', complementPointGeographique: '', numeroVoie: '',
    indiceRepetitionVoie: '', codeTypeDeVoie: '', libelleVoie: '', mentionDistribution: '', bureauCedex: '',
    codePostal: '75001', codeCommune: '', codePays: '', telephone: '', telephone2: '', telecopie: '',
    adresseEMail: '', codeDepartement: '', ancienIdentifiantDeLaStructure: '', autoriteDenregistrement: '',
  };
  const claims = {
    sub: idNat, preferred_username: idNat, SubjectNameID: idNat, given_name: given, family_name: family,
    ...(email ? { email, email_verified: false } : {}),
    SubjectRefPro: { codeCivilite: civ, exercices: [{
      codeProfession: profession, codeCategorieProfessionnelle: 'C', codeCiviliteDexercice: profession === '10' ? 'DR' : '',
      nomDexercice: family, prenomDexercice: given, codeTypeSavoirFaire: '', codeSavoirFaire: '', activities: [activity],
    }] },
    SubjectOrganization: site, SubjectOrganizationID: '', SubjectRole: [`${profession}^1.2.250.1.213.1.1.5.5`],
    otherIds: [{ identifiant: idNat, origine: 'RPPS', qualite: 1 }],
    Secteur_Activite: 'SA07^1.2.250.1.71.4.2.4', Mode_Acces_Raison: '', Acces_Regulation_Medicale: 'FAUX',
    UITVersion: '1.0', Palier_Authentification: 'APPPRIP3^1.2.250.1.213.1.5.1.1.1', PSI_Locale: '1.2.250.1.213.1.3.1.1',
  };
  return { sub: idNat, rpps, given_name: given, family_name: family, email: email ?? null,
    profession, mode, claims };
}
const ACCOUNTS = [
  practitioner({ rpps: '99700001011', civ: 'M', given: 'Jean', family: 'MARTIN', email: 'jean.martin@exemple-sante.fr',
    profession: '10', mode: 'L', site: 'Cabinet test' }),
  practitioner({ rpps: '99700002027', civ: 'MME', given: 'Claire', family: 'DURAND', email: 'claire.durand@exemple-sante.fr',
    profession: '60', mode: 'S', site: 'Centre hospitalier test' }),
  practitioner({ rpps: '99700003033', civ: 'M', given: 'Paul', family: 'LEROY', profession: '21', mode: 'L',
    site: 'Pharmacie test' }),
];
const accountBySub = (sub) => ACCOUNTS.find((a) => a.sub === sub);

async function rsaKey(kid) {
  const { privateKey } = await jose.generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  return { kid, privateKey, jwk: { ...(await jose.exportJWK(privateKey)), kid, use: 'sig', alg: 'RS256' } };
}
const keys = [await rsaKey('psc-key-1')]; // keys[0] signs
const strangerKey = await rsaKey('psc-key-unknown');

const state = { provider: null, handler: null, setup: null, nextLogin: null, mode: null,
  issued: [], lastIdToken: null };
let issuer = '';

async function resign(idToken, mode) {
  const payload = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = keys[0];
  if (mode === 'unknown-key') key = strangerKey;
  else if (mode === 'wrong-audience') payload.aud = 'un-autre-client';
  else if (mode === 'expired') Object.assign(payload, { exp: now - 3600, iat: now - 7200 });
  else if (mode === 'wrong-issuer') payload.iss = 'https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet';
  return new jose.SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(key.privateKey);
}

function buildProvider(cfg) {
  const client = {
    client_id: cfg.client_id, client_secret: cfg.client_secret, redirect_uris: cfg.redirect_uris,
    grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256', default_acr_values: ['eidas1'],
    ...(cfg.signed_userinfo ? { userinfo_signed_response_alg: 'RS256' } : {}),
    ...(cfg.backchannel_logout_uri ? { backchannel_logout_uri: cfg.backchannel_logout_uri,
      backchannel_logout_session_required: false } : {}),
  };
  const provider = new Provider(issuer, {
    clients: [client],
    adapter: sharedAdapter,
    jwks: { keys: keys.map((k) => k.jwk) },
    cookies: { keys: ['psc-test-cookie-key-1', 'psc-test-cookie-key-0'] },
    scopes: ['openid', 'scope_all'],
    claims: { openid: ['sub'], scope_all: PSC_CLAIMS, acr: null, auth_time: null, sid: null, iss: null },
    acrValues: ['eidas1'],
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic'],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false }, backchannelLogout: { enabled: true },
      jwtUserinfo: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    findAccount: (ctx, sub) => {
      const a = accountBySub(sub);
      return a && { accountId: sub, claims: async () => structuredClone(a.claims) };
    },
    // oidc-provider's fetch refuses loopback addresses (SSRF guard); the RP lives on 127.0.0.1.
    fetch: (url, options) => { delete options.dispatcher; return globalThis.fetch(url, options); },
  });
  provider.use(async (ctx, next) => {
    // oidc-provider treats client_secret_post as interchangeable with _basic; PSC clients use basic.
    if (ctx.path === '/token' && ctx.method === 'POST' && !/^basic /i.test(ctx.get('authorization'))) {
      ctx.status = 401;
      ctx.body = { error: 'invalid_client', error_description: 'client_secret_basic authentication required' };
      return;
    }
    await next();
    if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.body?.id_token) return;
    const genuine = ctx.body.id_token;
    const mode = state.mode;
    state.mode = null;
    if (mode === 'replay') ctx.body.id_token = state.lastIdToken ?? genuine;
    else if (mode) ctx.body.id_token = await resign(genuine, mode);
    if (mode) log(`token response altered: ${mode}`);
    state.issued.push(genuine);
    state.lastIdToken = genuine; // "replay" returns the previous exchange's genuine id_token
  });
  provider.on('server_error', (ctx, err) => log('server_error', err));
  return provider;
}

async function install(cfg) {
  state.provider = buildProvider(cfg);
  state.handler = state.provider.callback();
}

async function finishInteraction(req, res, details, accountId) {
  const { provider } = state;
  const { params, prompt } = details;
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope || 'openid'));
  if (prompt.details?.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  const result = prompt.name === 'login'
    ? { login: { accountId, acr: 'eidas1', amr: ['mfa'] }, consent: { grantId } }
    : { consent: { grantId } };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const page = (uid, error = '') => `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Pro Santé Connect (test)</title></head>
<body><h1>Pro Santé Connect — environnement de test</h1>${error ? `<p role="alert">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}">
<label for="login">Identifiant national</label><input id="login" name="login" autocomplete="off">
<button type="submit">Valider avec e-CPS</button>
</form></body></html>`;

async function interaction(req, res, uid) {
  const details = await state.provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'interaction mismatch');
  if (details.prompt.name !== 'login') {
    return finishInteraction(req, res, details, details.session.accountId);
  }
  if (req.method === 'GET') {
    if (state.nextLogin) {
      const sub = state.nextLogin;
      state.nextLogin = null;
      return finishInteraction(req, res, details, sub);
    }
    return send(res, 200, page(uid), 'text/html; charset=utf-8');
  }
  const login = new URLSearchParams(await readBody(req)).get('login')?.trim();
  if (!accountBySub(login)) return send(res, 400, page(uid, 'Identifiant inconnu'), 'text/html; charset=utf-8');
  return finishInteraction(req, res, details, login);
}

async function backchannelLogout(sub) {
  const client = await state.provider.Client.find(state.setup.client_id);
  if (!client.backchannelLogoutUri) return { status: 409, body: 'no backchannel_logout_uri registered' };
  try {
    await client.backchannelLogout(sub);
    return { status: 204 };
  } catch (err) {
    const rpStatus = err.response?.status;
    if (rpStatus >= 200 && rpStatus < 300) return { status: 204 }; // oidc-provider only accepts 200/204
    log('backchannel logout failed:', err.message);
    return { status: 502, body: JSON.stringify({ rp_status: rpStatus ?? null, error: err.message }) };
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      .on('error', reject);
  });
}
const readJson = async (req) => JSON.parse((await readBody(req)) || '{}');
function send(res, status, body = '', type = 'text/plain; charset=utf-8') {
  res.writeHead(status, body === '' ? {} : { 'content-type': type });
  res.end(body);
}

async function control(req, res, route) {
  const r = `${req.method} ${route}`;
  if (r === 'GET /test/health') return send(res, 200, 'ok');
  if (r === 'GET /test/accounts') {
    return send(res, 200, JSON.stringify(ACCOUNTS.map(({ claims, ...a }) => a)), 'application/json');
  }
  if (r === 'POST /test/setup') {
    const cfg = await readJson(req);
    if (!cfg.client_id || !cfg.client_secret || !Array.isArray(cfg.redirect_uris)) {
      return send(res, 400, 'client_id, client_secret and redirect_uris are required');
    }
    state.setup = cfg;
    await install(cfg);
    log(`provider ready for client ${cfg.client_id}`);
    return send(res, 204);
  }
  if (r === 'POST /test/next-login') {
    const { sub } = await readJson(req);
    if (!accountBySub(sub)) return send(res, 400, 'unknown sub');
    state.nextLogin = sub;
    return send(res, 204);
  }
  if (r === 'POST /test/mode') {
    const { mode } = await readJson(req);
    if (mode !== 'normal' && !FAULTS.has(mode)) return send(res, 400, `unknown mode ${mode}`);
    state.mode = mode === 'normal' ? null : mode;
    return send(res, 204);
  }
  if (!state.provider) return send(res, 503, 'call POST /test/setup first');
  if (r === 'POST /test/rotate-key') {
    if (!keys.some((k) => k.kid === 'psc-key-2')) keys.unshift(await rsaKey('psc-key-2'));
    await install(state.setup);
    return send(res, 204);
  }
  if (r === 'POST /test/backchannel-logout') {
    const { sub } = await readJson(req);
    if (!accountBySub(sub)) return send(res, 400, 'unknown sub');
    const out = await backchannelLogout(sub);
    return send(res, out.status, out.body ?? '', 'application/json');
  }
  return send(res, 404, 'unknown control endpoint');
}

const server = http.createServer(async (req, res) => {
  try {
    const { pathname } = new URL(req.url, issuer);
    if (pathname.startsWith('/test/')) return await control(req, res, pathname);
    if (!state.provider) return send(res, 503, 'provider not set up yet (POST /test/setup)');
    const m = pathname.match(/^\/interaction\/([^/]+)$/);
    if (m && (req.method === 'GET' || req.method === 'POST')) return await interaction(req, res, m[1]);
    return state.handler(req, res);
  } catch (err) {
    log('error', req.method, req.url, err);
    if (!res.headersSent) send(res, err.statusCode || err.status || 500, String(err.message || err));
  }
});
server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`${issuer}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
