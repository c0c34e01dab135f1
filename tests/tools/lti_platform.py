"""An LTI 1.3 platform for the tests, built on the independent `lti1p3platform` package
(PyPI, pinned in scripts/test): it starts logins, signs launches (resource link and deep
linking), issues access tokens, and takes line items and scores (AGS) — as an LMS would.

    python3 lti_platform.py <tool base URL>

prints its own base URL on the first line of stdout, then serves until killed.

The test drives it over HTTP:
  GET  /start?user=..&roles=..&context=..&course=..[&message=dl][&mode=..]  → 302 to the tool's login
  GET  /auth?...               the OIDC authentication endpoint: answers the launch form
  GET  /jwks                   the platform's keyset
  POST /token                  client credentials with a JWT assertion
  /ags/<context>/lineitems[...] AGS, bearer token checked by the library
  POST /dl/return              deep linking response, checked by the library
  GET  /control/state          what the platform received (scores, line items, deep links)
  POST /control/ags?down=1     makes AGS answer 503 (an LMS outage)

Modes (`mode=`) sign a launch wrongly on purpose, for the security framework's negative
cases: wrong_aud, expired, unknown_kid, bad_deployment, bad_signature.
"""

import html
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService
from lti1p3platform.membership import Context
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.exceptions import LineItemNotFoundException

CLIENT_ID = "qvt-tool"
DEPLOYMENT_ID = "deployment-1"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
ROLES = {"learner": LEARNER, "instructor": INSTRUCTOR, "admin": ADMIN}


def new_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


PRIVATE, PUBLIC = new_pem()
STRANGER_PRIVATE, _ = new_pem()  # signs with a key no keyset publishes

LOCK = threading.Lock()
STATE = {
    "hints": {},  # lti_message_hint -> launch parameters
    "lineitems": {},  # context -> [line item]
    "scores": [],  # {"lineitem": id, "score": {...}}
    "deep_links": [],  # content items received
    "assertions": [],  # jti of client assertions seen (replays refused)
    "ags_down": False,
    "members": {},  # context -> NRPS members
    "token_requests": 0,
}


class Conf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs):
        self._registration = REGISTRATION

    def get_registration_by_params(self, **kwargs):
        return REGISTRATION


def registration(base, tool):
    return (
        Registration()
        .set_iss(base)
        .set_client_id(CLIENT_ID)
        .set_deployment_id(DEPLOYMENT_ID)
        .set_oidc_login_url(f"{tool}/lti/login")
        .set_launch_url(f"{tool}/lti/launch")
        .set_deeplink_launch_url(f"{tool}/lti/launch")
        .set_tool_key_set_url(f"{tool}/lti/jwks.json")
        .set_platform_private_key(PRIVATE)
        .set_platform_public_key(PUBLIC)
    )


class HarnessRequest(Request):
    def build_metadata(self, request):
        return request


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs):
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url):
        return url


class Launch(LTIAdvantageMessageLaunchAbstract):
    def prepare_launch(self, preflight_response):
        params = STATE["hints"][preflight_response["lti_message_hint"]]
        self.params = params
        roles = [ROLES[r] for r in params.get("roles", "learner").split(",")]
        self.set_user_data(
            params["user"],
            roles,
            full_name=params.get("name"),
            email_address=params.get("email"),
        )
        context = params.get("context", "course-1")
        self.set_launch_context_claim(
            context, context_title=params.get("context_title", "Cours LMS")
        )
        if params.get("message") == "dl":
            STATE["dl_context"] = context
            self.set_dl(
                f"{BASE}/dl/return",
                title="Choisir",
                accept_types={"ltiResourceLink"},
                extra_data="opaque-platform-data",
            )
        else:
            self.set_resource_link_claim(params.get("resource_link", "link-1"))
            custom = {k: params[k] for k in ("course", "quiz") if params.get(k)}
            if custom:
                self.set_custom_parameters_claim(custom)
            lineitem = params.get("lineitem")
            self.set_nrps(f"{BASE}/nrps/{context}/memberships")
            self.set_ags(
                f"{BASE}/ags/{context}/lineitems",
                lineitem_url=(f"{BASE}/ags/{context}/lineitems/{lineitem}" if lineitem else None),
            )

    def get_launch_message(self, include_extra_claims=True):
        message = super().get_launch_message(include_extra_claims)
        mode = getattr(self, "params", {}).get("mode")
        if mode == "wrong_aud":
            message["aud"] = "someone-else"
            message["azp"] = "someone-else"
        if mode == "bad_deployment":
            message["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "unknown"
        return message

    def generate_launch_request(self):
        launch = super().generate_launch_request()
        mode = self.params.get("mode")
        if mode in ("expired", "unknown_kid", "bad_signature"):
            body = jwt.decode(launch["id_token"], options={"verify_signature": False})
            if mode == "expired":
                body["iat"] = int(time.time()) - 3600
                body["exp"] = int(time.time()) - 600
            key, kid = PRIVATE, REGISTRATION.get_kid()
            if mode == "unknown_kid":
                key, kid = STRANGER_PRIVATE, "not-published"
            if mode == "bad_signature":
                key = STRANGER_PRIVATE
            launch["id_token"] = jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})
        with LOCK:
            STATE["last_launch"] = dict(launch)
        return launch

    def render_launch_form(self, launch_data, **kwargs):
        # The page a browser gets: a form posted to the tool at once.
        fields = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(launch_data[k])}">'
            for k in ("id_token", "state")
        )
        return (
            f'<!doctype html><form id="launch" method="post" '
            f'action="{html.escape(launch_data["launch_url"])}">{fields}'
            f'<button type="submit">Continuer</button></form>'
            f"<script>document.getElementById('launch').submit()</script>"
        )


class Grades(AssignmentsGradesService):
    def __init__(self, request, context):
        super().__init__(
            request,
            Conf(),
            f"{BASE}/ags/{context}/lineitems",
            allow_creating_lineitems=True,
        )
        self.context = context

    def items(self):
        return STATE["lineitems"].setdefault(self.context, [])

    def find_lineitems(self, page=1, limit=None, **filters):
        items = self.items()
        tag = filters.get("tag")
        resource = filters.get("resource_id")
        found = [
            i
            for i in items
            if (tag is None or i.get("tag") == tag)
            and (resource is None or i.get("resourceId") == resource)
        ]
        return {"content": found, "has_next": False, "next": None}

    def find_lineitem(self, line_item_id):
        for item in self.items():
            if item["id"].rsplit("/", 1)[-1] == line_item_id:
                return item
        raise LineItemNotFoundException()

    def create_lineitem(self, lineitem):
        item = dict(lineitem)
        item["id"] = f"{BASE}/ags/{self.context}/lineitems/{secrets.token_hex(4)}"
        self.items().append(item)
        return item

    def update_lineitem(self, lineitem):
        return lineitem

    def delete_lineitem(self, line_item_id):
        pass

    def update_score(self, line_item_id, score):
        item = self.find_lineitem(line_item_id)
        STATE["scores"].append({"lineitem": item["id"], "score": score})
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id, page=1, limit=None, user_id=None):
        return {"content": [], "has_next": False, "next": None}


class Members(NamesRoleProvisioningService):
    """The course's members, two per page (the tool must follow the pages)."""

    def __init__(self, request, context):
        super().__init__(request, Conf(), f"{BASE}/nrps/{context}/memberships")
        self.context = context

    def get_context_by_id(self):
        return Context(id=self.context, label=self.context, title="Cours LMS")

    def get_member_data_page(self, page=1, limit=None, role=None, since=None, **kwargs):
        members = STATE["members"].get(self.context, [])
        page, size = int(page), 2
        chunk = members[(page - 1) * size : page * size]
        return {"content": [dict(m) for m in chunk], "has_next": page * size < len(members)}


def check_assertion(form):
    """What the library leaves to the platform: the client assertion's own claims."""
    assertion = jwt.decode(form["client_assertion"], options={"verify_signature": False})
    if assertion.get("iss") != CLIENT_ID or assertion.get("sub") != CLIENT_ID:
        raise ValueError("assertion iss/sub is not the client id")
    if assertion.get("aud") not in (f"{BASE}/token", [f"{BASE}/token"]):
        raise ValueError("assertion aud is not the token endpoint")
    if assertion.get("exp", 0) < time.time():
        raise ValueError("assertion expired")
    jti = assertion.get("jti")
    if not jti or jti in STATE["assertions"]:
        raise ValueError("assertion jti missing or replayed")
    STATE["assertions"].append(jti)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body=None, content_type="application/json", headers=()):
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def parts(self):
        url = urllib.parse.urlsplit(self.path)
        return url.path, dict(urllib.parse.parse_qsl(url.query))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode()

    def request_for(self, method, query, form=None, body=None):
        return HarnessRequest(
            {
                "method": method,
                "form_data": form or {},
                "get_data": query,
                "headers": self.headers,  # case-insensitive, as HTTP has it
                "content_type": self.headers.get("Content-Type"),
                "path": self.path,
                "json": json.loads(body) if body else None,
            }
        )

    def do_GET(self):
        path, query = self.parts()
        if path == "/jwks":
            return self.answer(200, {"keys": REGISTRATION.get_jwks()})
        if path == "/start":
            hint = secrets.token_hex(8)
            with LOCK:
                STATE["hints"][hint] = query
            login = Login(self.request_for("GET", query), Conf())
            login.set_lti_message_hint(hint=hint)
            url = login.initiate_login(query["user"])
            return self.answer(302, headers=[("Location", url)])
        if path == "/auth":
            # What the library leaves to the platform: the request's fixed parameters and
            # the redirect URI registered for the tool.
            expected = {"scope": "openid", "response_type": "id_token",
                        "response_mode": "form_post", "prompt": "none",
                        "redirect_uri": REGISTRATION.get_launch_url()}
            wrong = [k for k, v in expected.items() if query.get(k) != v]
            if wrong or query.get("lti_message_hint") not in STATE["hints"]:
                return self.answer(400, {"error": f"authentication request: {wrong}"})
            launch = Launch(self.request_for("GET", query), Conf())
            try:
                page = launch.lti_launch()
            except Exception as e:  # a preflight the library refuses
                return self.answer(400, {"error": repr(e)})
            return self.answer(200, page.encode(), "text/html; charset=utf-8")
        if path == "/course":
            # A course page of the LMS, the activity opened in a frame as Moodle does.
            start = html.escape(f"/start?{urllib.parse.urlencode(query)}")
            page = (f'<!doctype html><html lang="fr"><title>Cours</title><h1>Cours LMS</h1>'
                    f'<iframe title="Activité" src="{start}" width="1200" height="800"></iframe></html>')
            return self.answer(200, page.encode(), "text/html; charset=utf-8")
        if path == "/.well-known/openid-configuration":
            # LTI Dynamic Registration (not in lti1p3platform): the platform's side, as Moodle
            # publishes it.
            return self.answer(200, {
                "issuer": BASE,
                "authorization_endpoint": f"{BASE}/auth",
                "token_endpoint": f"{BASE}/token",
                "jwks_uri": f"{BASE}/jwks",
                "registration_endpoint": f"{BASE}/register",
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    "product_family_code": "moodle", "version": "4.4",
                    "messages_supported": [{"type": "LtiResourceLinkRequest"},
                                           {"type": "LtiDeepLinkingRequest"}],
                },
            })
        if path == "/control/state":
            with LOCK:
                return self.answer(200, {k: v for k, v in STATE.items() if k != "hints"})
        if path.startswith("/ags/"):
            return self.ags("GET", path, query)
        if path.startswith("/nrps/"):
            context = path.strip("/").split("/")[1]
            # Paged: `limit` asks for pages; the next one is named in the answer.
            query.setdefault("limit", "2")
            if "page" in query:
                query["page"] = int(query["page"])
            service = Members(self.request_for("GET", query), context)
            with LOCK:
                resp = service.handle_resp(service.handle_get_members)
            headers = []
            if resp.code == 200 and resp.result.get("next"):
                headers.append(("Link", f'<{resp.result["next"]}>; rel="next"'))
            return self.answer(resp.code, resp.result, resp.media_type, headers)
        return self.answer(404, {"error": path})

    def do_POST(self):
        path, query = self.parts()
        body = self.body()
        if path == "/token":
            form = dict(urllib.parse.parse_qsl(body))
            try:
                with LOCK:
                    STATE["token_requests"] += 1
                    check_assertion(form)
                token = Conf().get_access_token(form)
            except Exception as e:
                return self.answer(400, {"error": "invalid_client", "error_description": repr(e)})
            return self.answer(200, token)
        if path == "/dl/return":
            form = dict(urllib.parse.parse_qsl(body))
            try:
                items = Conf().validate_deeplinking_resp(form)
                claims = jwt.decode(form["JWT"], options={"verify_signature": False})
                if claims.get("aud") != BASE or not claims.get("nonce"):
                    raise ValueError("deep linking response aud or nonce")
                if claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/data") != "opaque-platform-data":
                    raise ValueError("deep linking response data not returned")
            except Exception as e:
                return self.answer(400, {"error": repr(e)})
            with LOCK:
                # As Moodle does: a link asking for a grade book column gets one.
                context = STATE.get("dl_context", "course-1")
                for item in items:
                    if "lineItem" in item:
                        line = dict(item["lineItem"])
                        line["id"] = f"{BASE}/ags/{context}/lineitems/{secrets.token_hex(4)}"
                        STATE["lineitems"].setdefault(context, []).append(line)
                        item["lineitem_id"] = line["id"]
                STATE["deep_links"].extend(items)
            return self.answer(200, b"<p>ok</p>", "text/html")
        if path == "/register":
            if self.headers.get("Authorization") != "Bearer registration-token-1":
                return self.answer(401, {"error": "invalid registration token"})
            request = json.loads(body)
            tool = request.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {}
            expected = {
                "initiate_login_uri": REGISTRATION.get_oidc_login_url(),
                "jwks_uri": REGISTRATION.get_tool_key_set_url(),
                "token_endpoint_auth_method": "private_key_jwt",
                "application_type": "web",
            }
            wrong = [k for k, v in expected.items() if request.get(k) != v]
            if REGISTRATION.get_launch_url() not in request.get("redirect_uris", []):
                wrong.append("redirect_uris")
            if set(request.get("grant_types", [])) != {"implicit", "client_credentials"}:
                wrong.append("grant_types")
            if request.get("response_types") != ["id_token"] or not tool.get("target_link_uri"):
                wrong.append("response_types/tool configuration")
            if wrong:
                return self.answer(400, {"error": "invalid_client_metadata", "fields": wrong})
            with LOCK:
                STATE["registered"] = request
            answer = dict(request)
            answer["client_id"] = CLIENT_ID
            answer["https://purl.imsglobal.org/spec/lti-tool-configuration"] = dict(
                tool, deployment_id=DEPLOYMENT_ID
            )
            return self.answer(200, answer)
        if path == "/control/members":
            with LOCK:
                STATE["members"][query["context"]] = json.loads(body)
            return self.answer(204)
        if path == "/control/rotate":
            # A new signing key; the keyset publishes only it from now on.
            global PRIVATE, PUBLIC
            with LOCK:
                PRIVATE, PUBLIC = new_pem()
                REGISTRATION.set_platform_private_key(PRIVATE).set_platform_public_key(PUBLIC)
            return self.answer(204)
        if path == "/control/ags":
            with LOCK:
                STATE["ags_down"] = query.get("down") == "1"
            return self.answer(204)
        if path.startswith("/ags/"):
            return self.ags("POST", path, query, body)
        return self.answer(404, {"error": path})

    def ags(self, method, path, query, body=None):
        if STATE["ags_down"]:
            return self.answer(503, {"error": "maintenance"})
        parts = path.strip("/").split("/")  # ags, <context>, lineitems[, id[, scores]]
        context = parts[1]
        service = Grades(self.request_for(method, query, body=body), context)
        with LOCK:
            if len(parts) == 3 and method == "GET":
                resp = service.handle_resp(service.handle_get_lineitems)
                if resp.code == 200:
                    resp.result = resp.result["content"]
            elif len(parts) == 3 and method == "POST":
                resp = service.handle_resp(service.handle_create_lineitem)
            elif len(parts) == 5 and parts[4] == "scores" and method == "POST":
                resp = service.handle_resp(service.handle_update_score, line_item_id=parts[3])
            else:
                return self.answer(404, {"error": path})
        return self.answer(resp.code, resp.result, resp.media_type)


if __name__ == "__main__":
    tool = sys.argv[1].rstrip("/")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    BASE = f"http://127.0.0.1:{server.server_address[1]}"
    REGISTRATION = registration(BASE, tool)
    print(BASE, flush=True)
    server.serve_forever()
