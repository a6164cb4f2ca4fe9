#!/usr/bin/env python3
"""Fixtures for ProviderVerifierTests: signed provider requests, computed here with Python's
own `hmac`, `hashlib` and `base64` (and the `cryptography` package for Ed25519), independently
of the Swift code under test.

Regenerate (the output is deterministic, and a test checks the committed file against it):

    python3 make_fixtures.py > fixtures.json

Each case is a request (header list, body name) with the settings of the source receiving it
(scheme, secrets with an optional expiry in microseconds, ...), what verification must
conclude, and the tags of what it covers. The payloads are shaped like the providers'
documented examples (GitHub "push", Stripe "payment_intent.succeeded", Shopify
"orders/create", Slack "event_callback" and "url_verification", GitLab "Push Hook"), filled
with made-up values. Every signature is derived in `sign_*` below from the secret, the
timestamp and the exact body bytes.
"""
import base64
import hashlib
import hmac
import json
import sys

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives import serialization
except ImportError:  # pragma: no cover
    sys.exit("make_fixtures.py needs the 'cryptography' package for the Ed25519 (v1a) cases")

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, the "now" every case is verified at (seconds)
NOW_US = NOW * 1_000_000
HOUR_US = 3_600 * 1_000_000
TOLERANCE = 300


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def pretty(value):
    return json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8")


def hmac_digest(secret, message, algorithm=hashlib.sha256):
    return hmac.new(secret.encode("utf-8"), message, algorithm).digest()


def tamper(body):
    """The same body with one byte changed in the middle (a digit or letter bumped)."""
    middle = len(body) // 2
    while not (body[middle] < 0x80 and chr(body[middle]).isalnum()):
        middle += 1
    changed = body[middle] + 1 if chr(body[middle]) not in "9zZ" else body[middle] - 1
    return body[:middle] + bytes([changed]) + body[middle + 1:]


# ---------------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------------

def github_repository():
    base = "https://api.github.com/repos/octo-org/hello-world"
    owner = {
        "name": "octo-org", "email": None, "login": "octo-org", "id": 6811672,
        "node_id": "MDEyOk9yZ2FuaXphdGlvbjY4MTE2NzI=",
        "avatar_url": "https://avatars.githubusercontent.com/u/6811672?v=4", "gravatar_id": "",
        "url": "https://api.github.com/users/octo-org", "html_url": "https://github.com/octo-org",
        "followers_url": "https://api.github.com/users/octo-org/followers",
        "following_url": "https://api.github.com/users/octo-org/following{/other_user}",
        "gists_url": "https://api.github.com/users/octo-org/gists{/gist_id}",
        "starred_url": "https://api.github.com/users/octo-org/starred{/owner}{/repo}",
        "subscriptions_url": "https://api.github.com/users/octo-org/subscriptions",
        "organizations_url": "https://api.github.com/users/octo-org/orgs",
        "repos_url": "https://api.github.com/users/octo-org/repos",
        "events_url": "https://api.github.com/users/octo-org/events{/privacy}",
        "received_events_url": "https://api.github.com/users/octo-org/received_events",
        "type": "Organization", "site_admin": False,
    }
    repository = {
        "id": 186853002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=", "name": "hello-world",
        "full_name": "octo-org/hello-world", "private": False, "owner": owner,
        "html_url": "https://github.com/octo-org/hello-world",
        "description": "A repository for trying webhooks — with a non-ASCII dash", "fork": False,
        "url": "https://github.com/octo-org/hello-world",
    }
    for name in ["forks", "keys{/key_id}", "collaborators{/collaborator}", "teams", "hooks",
                 "issues/events{/number}", "events", "assignees{/user}", "branches{/branch}", "tags",
                 "git/blobs{/sha}", "git/tags{/sha}", "git/refs{/sha}", "git/trees{/sha}",
                 "statuses/{sha}", "languages", "stargazers", "contributors", "subscribers",
                 "subscription", "commits{/sha}", "git/commits{/sha}", "comments{/number}",
                 "issues/comments{/number}", "contents/{+path}", "compare/{base}...{head}", "merges",
                 "{archive_format}{/ref}", "downloads", "issues{/number}", "pulls{/number}",
                 "milestones{/number}", "notifications{?since,all,participating}", "labels{/name}",
                 "releases{/id}", "deployments"]:
        key = name.split("{")[0].split("/")[0].rstrip("s") if name[0] != "{" else "archive"
        repository[key.replace("-", "_") + "_url"] = base + "/" + name
    repository.update({
        "created_at": 1557933565, "updated_at": "2025-12-31T23:59:01Z", "pushed_at": 1767225590,
        "git_url": "git://github.com/octo-org/hello-world.git",
        "ssh_url": "git@github.com:octo-org/hello-world.git",
        "clone_url": "https://github.com/octo-org/hello-world.git",
        "svn_url": "https://github.com/octo-org/hello-world", "homepage": None, "size": 59,
        "stargazers_count": 0, "watchers_count": 0, "language": "Swift", "has_issues": True,
        "has_projects": True, "has_downloads": True, "has_wiki": True, "has_pages": False,
        "has_discussions": False, "forks_count": 0, "mirror_url": None, "archived": False,
        "disabled": False, "open_issues_count": 2, "license": None, "allow_forking": True,
        "is_template": False, "web_commit_signoff_required": False, "topics": [],
        "visibility": "public", "forks": 0, "open_issues": 2, "watchers": 0,
        "default_branch": "main", "stargazers": 0, "master_branch": "main", "organization": "octo-org",
        "custom_properties": {},
    })
    return repository


def github_sender():
    return {
        "login": "zoe-codes", "id": 21031067, "node_id": "MDQ6VXNlcjIxMDMxMDY3",
        "avatar_url": "https://avatars.githubusercontent.com/u/21031067?v=4", "gravatar_id": "",
        "url": "https://api.github.com/users/zoe-codes", "html_url": "https://github.com/zoe-codes",
        "type": "User", "site_admin": False,
    }


def github_push():
    commits = []
    previous = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    for index in range(14):
        sha = hashlib.sha1(f"commit {index}".encode()).hexdigest()
        commits.append({
            "id": sha, "tree_id": hashlib.sha1(f"tree {index}".encode()).hexdigest(), "distinct": True,
            "message": f"Fix the parser for case {index}\n\nThe scanner stopped one byte early when a "
                       f"string ended at a buffer boundary; this adds the test for split {index}.",
            "timestamp": f"2025-12-31T23:{index + 40:02d}:00+01:00",
            "url": f"https://github.com/octo-org/hello-world/commit/{sha}",
            "author": {"name": "Zoë Martín", "email": "zoe@example.com", "username": "zoe-codes"},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
            "added": [f"Tests/ParserTests/Split{index}Tests.swift"],
            "removed": [],
            "modified": ["Sources/Parser/Scanner.swift", f"Sources/Parser/Case{index}.swift", "README.md"],
        })
        previous = sha
    return compact({
        "ref": "refs/heads/main", "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "after": previous,
        "repository": github_repository(),
        "pusher": {"name": "zoe-codes", "email": "zoe@example.com"},
        "organization": {"login": "octo-org", "id": 6811672, "node_id": "MDEyOk9yZ2FuaXphdGlvbjY4MTE2NzI=",
                         "url": "https://api.github.com/orgs/octo-org", "description": ""},
        "sender": github_sender(),
        "created": False, "deleted": False, "forced": False, "base_ref": None,
        "compare": "https://github.com/octo-org/hello-world/compare/6113728f27ae...%s" % previous[:12],
        "commits": commits, "head_commit": commits[-1],
    })


def github_pull_request_opened():
    return compact({
        "action": "opened", "number": 42,
        "pull_request": {"url": "https://api.github.com/repos/octo-org/hello-world/pulls/42", "id": 1,
                         "number": 42, "state": "open", "title": "Scanner: stop at the boundary",
                         "user": github_sender(), "body": "Fixes #41.", "draft": False,
                         "head": {"ref": "fix-41", "sha": "3b1e2c"}, "base": {"ref": "main", "sha": "6113728"}},
        "repository": github_repository(), "sender": github_sender(),
    })


def github_ping():
    return compact({
        "zen": "Keep it logically awesome.", "hook_id": 109948940,
        "hook": {"type": "Repository", "id": 109948940, "name": "web", "active": True,
                 "events": ["push", "pull_request"],
                 "config": {"content_type": "json", "insecure_ssl": "0",
                            "url": "https://gateway.example.com/in/github"}},
        "repository": github_repository(), "sender": github_sender(),
    })


def stripe_payment_intent_succeeded():
    return pretty({
        "id": "evt_3QbHt2LkdIwHu7ix0Vb2Xr1A", "object": "event", "api_version": "2024-06-20",
        "created": NOW - 2,
        "data": {"object": {
            "id": "pi_3QbHt2LkdIwHu7ix0dSlGWfu", "object": "payment_intent", "amount": 2000,
            "amount_capturable": 0, "amount_details": {"tip": {}}, "amount_received": 2000,
            "application": None, "application_fee_amount": None, "automatic_payment_methods": None,
            "canceled_at": None, "cancellation_reason": None, "capture_method": "automatic",
            "client_secret": "pi_3QbHt2LkdIwHu7ix0dSlGWfu_secret_REDACTED", "confirmation_method": "automatic",
            "created": NOW - 3, "currency": "usd", "customer": "cus_RUJ2v7kKkO1yT8",
            "description": "Invoice 2026-0001", "last_payment_error": None,
            "latest_charge": "ch_3QbHt2LkdIwHu7ix0iLaBz5q", "livemode": False,
            "metadata": {"order_id": "6735"}, "next_action": None, "on_behalf_of": None,
            "payment_method": "pm_1QbHt1LkdIwHu7ixZ3a1OZmH",
            "payment_method_options": {"card": {"installments": None, "mandate_options": None,
                                                "network": None, "request_three_d_secure": "automatic"}},
            "payment_method_types": ["card"], "processing": None, "receipt_email": "jenny.rosen@example.com",
            "review": None, "setup_future_usage": None, "shipping": None, "source": None,
            "statement_descriptor": None, "statement_descriptor_suffix": None, "status": "succeeded",
            "transfer_data": None, "transfer_group": None,
        }},
        "livemode": False, "pending_webhooks": 1,
        "request": {"id": "req_8p9M3yQ0lyZ7cX", "idempotency_key": "5e1c3d0a-8f9b-4d2e-9a77-1f0c6b2d4e11"},
        "type": "payment_intent.succeeded",
    })


def shopify_order_created():
    address = {"first_name": "Bob", "address1": "123 Amoebobacterieae St", "phone": "555-625-1199",
               "city": "Ottawa", "zip": "K2P0V6", "province": "Ontario", "country": "Canada",
               "last_name": "Norman", "address2": "", "company": None, "latitude": None, "longitude": None,
               "name": "Bob Norman", "country_code": "CA", "province_code": "ON"}
    line_items = [{
        "id": 866550311766439020 + index, "admin_graphql_api_id": f"gid://shopify/LineItem/{866550311766439020 + index}",
        "fulfillable_quantity": 1, "fulfillment_service": "manual", "fulfillment_status": None,
        "gift_card": False, "grams": 567, "name": f"IPod Nano - {8 * (index + 1)}GB", "price": "199.00",
        "price_set": {"shop_money": {"amount": "199.00", "currency_code": "USD"},
                      "presentment_money": {"amount": "199.00", "currency_code": "USD"}},
        "product_exists": True, "product_id": 632910392, "properties": [], "quantity": 1,
        "requires_shipping": True, "sku": f"IPOD2008PINK{index}", "taxable": True,
        "title": "IPod Nano", "total_discount": "0.00", "variant_id": 808950810 + index,
        "variant_title": None, "vendor": None, "tax_lines": [], "duties": [], "discount_allocations": [],
    } for index in range(3)]
    return compact({
        "id": 820982911946154508, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "app_id": None, "browser_ip": None, "buyer_accepts_marketing": True, "cancel_reason": "customer",
        "cancelled_at": None, "cart_token": None, "checkout_id": None, "checkout_token": None,
        "confirmation_number": None, "confirmed": False, "contact_email": "jon@example.com",
        "created_at": "2025-12-31T19:00:00-05:00", "currency": "USD",
        "current_subtotal_price": "597.00", "current_total_price": "607.00", "email": "jon@example.com",
        "financial_status": "voided", "fulfillment_status": "pending", "name": "#9999",
        "order_number": 1234, "phone": None, "presentment_currency": "USD",
        "processed_at": "2025-12-31T19:00:00-05:00", "subtotal_price": "597.00", "tags": "tag1, tag2",
        "test": True, "total_discounts": "0.00", "total_price": "607.00", "total_tax": "0.00",
        "total_weight": 0, "updated_at": "2025-12-31T19:00:00-05:00",
        "billing_address": address, "shipping_address": address,
        "customer": {"id": 115310627314723954, "email": "john@example.com", "first_name": "John",
                     "last_name": "Smith", "state": "disabled", "note": None, "verified_email": True,
                     "currency": "USD", "default_address": address},
        "line_items": line_items, "shipping_lines": [{"id": 271878346596884015, "code": None,
                                                      "price": "10.00", "title": "Generic Shipping"}],
        "refunds": [], "discount_codes": [], "note": None, "note_attributes": [],
    })


def slack_event_callback():
    return compact({
        "token": "XXYYZZ", "team_id": "T123ABC456", "api_app_id": "A123ABC456",
        "event": {"type": "app_mention", "user": "U123ABC456",
                  "text": "<@U0LAN0Z89> is it everything a river should be?",
                  "ts": "1767225599.000016", "channel": "C123ABC456", "event_ts": "1767225599.000016"},
        "type": "event_callback", "authed_users": ["U123ABC456"],
        "authorizations": [{"enterprise_id": None, "team_id": "T123ABC456", "user_id": "U0LAN0Z89",
                            "is_bot": True, "is_enterprise_install": False}],
        "event_id": "Ev123ABC456", "event_context": "EC123ABC456", "event_time": NOW - 1,
    })


def slack_url_verification():
    return compact({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
                    "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                    "type": "url_verification"})


def slack_slash_command():
    return (b"token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&channel_id=C2147483705"
            b"&channel_name=test&user_id=U2147483697&user_name=Steve&command=%2Fweather&text=94070"
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678&trigger_id=13345224609.738474920.8088930838d88f008e0")


def gitlab_push_hook():
    commits = [{
        "id": hashlib.sha1(f"gitlab {index}".encode()).hexdigest(),
        "message": f"Update Catalan translation to e38cb41 ({index}).",
        "title": f"Update Catalan translation to e38cb41 ({index}).",
        "timestamp": "2025-12-31T23:50:00+02:00",
        "url": f"http://example.com/mike/diaspora/commit/{hashlib.sha1(f'gitlab {index}'.encode()).hexdigest()}",
        "author": {"name": "Jordi Mallach", "email": "jordi@softcatala.org"},
        "added": ["CHANGELOG"], "modified": ["app/controller/application.rb"], "removed": [],
    } for index in range(4)]
    return compact({
        "object_kind": "push", "event_name": "push",
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22", "after": commits[-1]["id"],
        "ref": "refs/heads/master", "ref_protected": True, "checkout_sha": commits[-1]["id"],
        "user_id": 4, "user_name": "John Smith", "user_username": "jsmith", "user_email": "john@example.com",
        "user_avatar": "https://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=8://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=80",
        "project_id": 15,
        "project": {"id": 15, "name": "Diaspora", "description": "", "web_url": "http://example.com/mike/diaspora",
                    "avatar_url": None, "git_ssh_url": "git@example.com:mike/diaspora.git",
                    "git_http_url": "http://example.com/mike/diaspora.git", "namespace": "Mike",
                    "visibility_level": 0, "path_with_namespace": "mike/diaspora", "default_branch": "master",
                    "homepage": "http://example.com/mike/diaspora", "url": "git@example.com:mike/diaspora.git",
                    "ssh_url": "git@example.com:mike/diaspora.git", "http_url": "http://example.com/mike/diaspora.git"},
        "repository": {"name": "Diaspora", "url": "git@example.com:mike/diaspora.git", "description": "",
                       "homepage": "http://example.com/mike/diaspora", "git_http_url": "http://example.com/mike/diaspora.git",
                       "git_ssh_url": "git@example.com:mike/diaspora.git", "visibility_level": 0},
        "commits": commits, "total_commits_count": 4,
    })


def standard_invoice_paid():
    return compact({"type": "invoice.paid", "timestamp": "2026-01-01T00:00:00Z",
                    "data": {"id": "inv_01HQ3", "customer": "cus_7", "amount": 4200, "currency": "EUR"}})


def generic_build_finished():
    return compact({"event": "build.finished", "build": {"id": 9182, "status": "passed", "branch": "main",
                                                         "duration_seconds": 312}})


BODIES = {
    "github-push": github_push(),
    "github-pull-request-opened": github_pull_request_opened(),
    "github-ping": github_ping(),
    "stripe-payment-intent-succeeded": stripe_payment_intent_succeeded(),
    "shopify-orders-create": shopify_order_created(),
    "slack-event-callback": slack_event_callback(),
    "slack-url-verification": slack_url_verification(),
    "slack-slash-command": slack_slash_command(),
    "gitlab-push-hook": gitlab_push_hook(),
    "standard-invoice-paid": standard_invoice_paid(),
    "generic-build-finished": generic_build_finished(),
}
for name in list(BODIES):
    BODIES[name + "-tampered"] = tamper(BODIES[name])
assert 5_000 <= len(BODIES["github-push"]) <= 30_000, len(BODIES["github-push"])

# ---------------------------------------------------------------------------------------------
# Secrets and keys
# ---------------------------------------------------------------------------------------------

def secret(value, expires_in_us=None):
    return {"value": value, "expiresAt": None if expires_in_us is None else NOW_US + expires_in_us}


def whsec(label):
    return "whsec_" + base64.b64encode(hashlib.sha256(label.encode()).digest()).decode()


def whsec_key(serialized):
    return base64.b64decode(serialized[len("whsec_"):])


ED25519 = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fixture ed25519 seed").digest())
ED25519_OTHER = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"another ed25519 seed").digest())


def whpk(private_key):
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "whpk_" + base64.b64encode(raw).decode()


# Each scheme's current secret, a previous one still in its overlap, and a wrong one.
SECRETS = {
    "github": ("gh-webhook-secret-2026", "gh-webhook-secret-2025", "not-the-github-secret"),
    "stripe": ("whsec_stripe0current0e7f1c2b9d4a", "whsec_stripe0previous08a3b5c6d7e", "whsec_wrong000000000000000000"),
    "shopify": ("shpss_current_app_client_secret", "shpss_previous_app_client_secret", "shpss_wrong"),
    "slack": ("8f742231b10e8888abcd99yyyzzz85a5", "0ld5ecret0f5lack00000000000000aa", "wrong-slack-signing-secret"),
    "gitlab": ("glwt-current-token", "glwt-previous-token", "glwt-wrong-token"),
    "standard-webhooks": (whsec("sw current"), whsec("sw previous"), whsec("sw wrong")),
    "hmac": ("generic-current-secret", "generic-previous-secret", "generic-wrong-secret"),
    "basic": ("correct horse battery staple", "previous password", "wrong password"),
}


def settings(scheme, secrets=None, **extra):
    current, previous, _ = SECRETS[scheme]
    value = {"scheme": scheme, "secrets": secrets if secrets is not None else [secret(current)],
             "tolerance": TOLERANCE, "publicKeys": []}
    value.update(extra)
    return value


def rotating(scheme, previous_expires_in_us):
    current, previous, _ = SECRETS[scheme]
    return [secret(current), secret(previous, previous_expires_in_us)]


# ---------------------------------------------------------------------------------------------
# Signing, per provider documentation
# ---------------------------------------------------------------------------------------------

def sign_github(key, body):
    return "sha256=" + hmac_digest(key, body).hex()


def sign_stripe(keys, timestamp, body, extra=""):
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp}," + ",".join("v1=" + hmac_digest(k, signed).hex() for k in keys) + extra


def sign_shopify(key, body):
    return base64.b64encode(hmac_digest(key, body)).decode()


def sign_slack(key, timestamp, body):
    return "v0=" + hmac_digest(key, f"v0:{timestamp}:".encode() + body).hex()


def standard_content(msg_id, timestamp, body):
    return f"{msg_id}.{timestamp}.".encode() + body


def sign_standard_v1(serialized, msg_id, timestamp, body):
    mac = hmac.new(whsec_key(serialized), standard_content(msg_id, timestamp, body), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def sign_standard_v1a(private_key, msg_id, timestamp, body):
    return "v1a," + base64.b64encode(private_key.sign(standard_content(msg_id, timestamp, body))).decode()


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

CASES = []


def case(name, scheme_settings, headers, body, expect, covers=()):
    CASES.append({"name": name, "settings": scheme_settings, "headers": [list(h) for h in headers],
                  "body": body, "expect": expect, "covers": list(covers)})


def ok(delivery=None, provider_type=None, challenge=None):
    return {"verified": True, "deliveryID": delivery, "providerType": provider_type, "challenge": challenge}


def refused(check):
    return {"verified": False, "check": check}


def github_cases():
    current, previous, wrong = SECRETS["github"]
    push = BODIES["github-push"]
    delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

    def headers(signature, event="push", body=push):
        return [("X-GitHub-Event", event), ("X-GitHub-Delivery", delivery),
                ("X-GitHub-Hook-ID", "292430182"), ("Content-Type", "application/json"),
                ("X-Hub-Signature-256", signature)]

    base = settings("github")
    case("github push", base, headers(sign_github(current, push)), "github-push",
         ok(delivery, "push"), ["valid", "large-payload", "dedupe-id", "provider-type"])
    case("github pull_request.opened", base,
         headers(sign_github(current, BODIES["github-pull-request-opened"]), "pull_request"),
         "github-pull-request-opened", ok(delivery, "pull_request.opened"), ["valid", "provider-type"])
    case("github ping", base, headers(sign_github(current, BODIES["github-ping"]), "ping"), "github-ping",
         ok(delivery, "ping"), ["valid", "provider-type"])
    case("github header names in lower case", base,
         [(n.lower(), v) for n, v in headers(sign_github(current, push))], "github-push",
         ok(delivery, "push"), ["valid"])
    case("github tampered body", base, headers(sign_github(current, push)), "github-push-tampered",
         refused("signature-mismatch"), ["tampered"])
    case("github wrong secret", base, headers(sign_github(wrong, push)), "github-push",
         refused("signature-mismatch"), ["wrong-secret"])
    case("github missing signature", base, headers("x")[:-1], "github-push",
         refused("missing-header"), ["missing-header"])
    case("github duplicated signature", base,
         headers(sign_github(current, push)) + [("X-Hub-Signature-256", sign_github(current, push))],
         "github-push", refused("duplicated-header"), ["duplicated-header"])
    case("github duplicated event header", base,
         headers(sign_github(current, push)) + [("X-GitHub-Event", "issues")],
         "github-push", refused("duplicated-header"), ["duplicated-header"])
    case("github signature without sha256= prefix", base,
         headers(hmac_digest(current, push).hex()), "github-push", refused("malformed-header"), ["malformed-header"])
    case("github signature with sha1= prefix", base,
         headers("sha1=" + hmac_digest(current, push, hashlib.sha1).hex()), "github-push",
         refused("malformed-header"), ["malformed-header"])
    case("github signed with the previous secret during the overlap", settings("github", rotating("github", HOUR_US)),
         headers(sign_github(previous, push)), "github-push", ok(delivery, "push"), ["rotation-previous-valid"])
    case("github signed with the new secret during the overlap", settings("github", rotating("github", HOUR_US)),
         headers(sign_github(current, push)), "github-push", ok(delivery, "push"), ["rotation-current-valid"])
    case("github signed with the previous secret after it expired", settings("github", rotating("github", -1)),
         headers(sign_github(previous, push)), "github-push", refused("signature-mismatch"), ["rotation-expired"])


def stripe_cases():
    current, previous, wrong = SECRETS["stripe"]
    body = BODIES["stripe-payment-intent-succeeded"]
    name = "stripe-payment-intent-succeeded"
    event = ok("evt_3QbHt2LkdIwHu7ix0Vb2Xr1A", "payment_intent.succeeded")
    t = NOW - 5

    def headers(signature):
        return [("Content-Type", "application/json; charset=utf-8"), ("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
                ("Stripe-Signature", signature)]

    base = settings("stripe")
    case("stripe payment_intent.succeeded", base, headers(sign_stripe([current], t, body)), name, event,
         ["valid", "dedupe-id", "provider-type"])
    case("stripe with a test-mode v0 signature too", base,
         headers(sign_stripe([current], t, body, ",v0=" + hmac_digest("test", body).hex())), name, event, ["valid"])
    case("stripe several v1 signatures, the last one valid", base,
         headers(sign_stripe([wrong, previous, current], t, body)), name, event, ["multiple-signatures"])
    case("stripe several v1 signatures, none valid", base,
         headers(sign_stripe([wrong, previous], t, body)), name, refused("signature-mismatch"), ["multiple-signatures"])
    case("stripe tampered body", base, headers(sign_stripe([current], t, body)), name + "-tampered",
         refused("signature-mismatch"), ["tampered"])
    case("stripe wrong secret", base, headers(sign_stripe([wrong], t, body)), name,
         refused("signature-mismatch"), ["wrong-secret"])
    case("stripe timestamp moved (signature made for another time)", base,
         headers(sign_stripe([current], t, body).replace(f"t={t}", f"t={t + 1}")), name,
         refused("signature-mismatch"), ["tampered"])
    case("stripe at the edge of the tolerance", base, headers(sign_stripe([current], NOW - TOLERANCE, body)), name,
         event, ["valid"])
    case("stripe stale timestamp", base, headers(sign_stripe([current], NOW - TOLERANCE - 1, body)), name,
         refused("stale-timestamp"), ["stale-timestamp"])
    case("stripe future timestamp", base, headers(sign_stripe([current], NOW + TOLERANCE + 1, body)), name,
         refused("future-timestamp"), ["future-timestamp"])
    case("stripe wider tolerance accepts an older timestamp", settings("stripe", tolerance=3_600),
         headers(sign_stripe([current], NOW - 1_000, body)), name, event, ["valid"])
    case("stripe missing signature", base, headers("")[:-1], name, refused("missing-header"), ["missing-header"])
    case("stripe duplicated signature", base,
         headers(sign_stripe([current], t, body)) + [("stripe-signature", sign_stripe([current], t, body))], name,
         refused("duplicated-header"), ["duplicated-header"])
    case("stripe header without t=", base, headers("v1=" + hmac_digest(current, body).hex()), name,
         refused("malformed-header"), ["malformed-header"])
    case("stripe header without v1=", base, headers(f"t={t},v0=" + hmac_digest(current, body).hex()), name,
         refused("malformed-header"), ["malformed-header"])
    case("stripe header with a non-numeric t=", base, headers(sign_stripe([current], t, body).replace(f"t={t}", "t=soon")),
         name, refused("malformed-header"), ["malformed-header"])
    case("stripe signed with the previous secret during the overlap", settings("stripe", rotating("stripe", HOUR_US)),
         headers(sign_stripe([previous], t, body)), name, event, ["rotation-previous-valid"])
    case("stripe signed with the new secret during the overlap", settings("stripe", rotating("stripe", HOUR_US)),
         headers(sign_stripe([current], t, body)), name, event, ["rotation-current-valid"])
    case("stripe signed with the previous secret after it expired", settings("stripe", rotating("stripe", -1)),
         headers(sign_stripe([previous], t, body)), name, refused("signature-mismatch"), ["rotation-expired"])


def shopify_cases():
    current, previous, wrong = SECRETS["shopify"]
    body = BODIES["shopify-orders-create"]
    name = "shopify-orders-create"
    webhook_id = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    order = ok(webhook_id, "orders/create")

    def headers(signature):
        return [("X-Shopify-Topic", "orders/create"), ("X-Shopify-Shop-Domain", "example.myshopify.com"),
                ("X-Shopify-API-Version", "2025-10"), ("X-Shopify-Webhook-Id", webhook_id),
                ("X-Shopify-Triggered-At", "2026-01-01T00:00:00.000Z"),
                ("X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5"),
                ("X-Shopify-Hmac-Sha256", signature)]

    base = settings("shopify")
    case("shopify orders/create", base, headers(sign_shopify(current, body)), name, order,
         ["valid", "dedupe-id", "provider-type"])
    case("shopify tampered body", base, headers(sign_shopify(current, body)), name + "-tampered",
         refused("signature-mismatch"), ["tampered"])
    case("shopify wrong secret", base, headers(sign_shopify(wrong, body)), name, refused("signature-mismatch"), ["wrong-secret"])
    case("shopify missing signature", base, headers("")[:-1], name, refused("missing-header"), ["missing-header"])
    case("shopify duplicated signature", base, headers(sign_shopify(current, body)) + [("X-Shopify-Hmac-SHA256", sign_shopify(current, body))],
         name, refused("duplicated-header"), ["duplicated-header"])
    case("shopify hex instead of base64", base, headers(hmac_digest(current, body).hex()), name,
         refused("malformed-header"), ["malformed-header"])
    case("shopify signed with the previous secret during the overlap", settings("shopify", rotating("shopify", HOUR_US)),
         headers(sign_shopify(previous, body)), name, order, ["rotation-previous-valid"])
    case("shopify signed with the new secret during the overlap", settings("shopify", rotating("shopify", HOUR_US)),
         headers(sign_shopify(current, body)), name, order, ["rotation-current-valid"])
    case("shopify signed with the previous secret after it expired", settings("shopify", rotating("shopify", -1)),
         headers(sign_shopify(previous, body)), name, refused("signature-mismatch"), ["rotation-expired"])


def slack_cases():
    current, previous, wrong = SECRETS["slack"]
    body = BODIES["slack-event-callback"]
    name = "slack-event-callback"
    mention = ok("Ev123ABC456", "app_mention")
    t = NOW - 3

    def headers(signature, timestamp=t, content_type="application/json"):
        return [("Content-Type", content_type), ("X-Slack-Request-Timestamp", str(timestamp)),
                ("X-Slack-Signature", signature)]

    base = settings("slack")
    case("slack event_callback", base, headers(sign_slack(current, t, body)), name, mention,
         ["valid", "dedupe-id", "provider-type"])
    challenge = BODIES["slack-url-verification"]
    case("slack url_verification", base, headers(sign_slack(current, t, challenge)), "slack-url-verification",
         ok(None, "url_verification", "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"), ["valid", "challenge"])
    case("slack url_verification with a bad signature gets no challenge", base,
         headers(sign_slack(wrong, t, challenge)), "slack-url-verification", refused("signature-mismatch"), ["wrong-secret"])
    command = BODIES["slack-slash-command"]
    case("slack slash command (form-encoded)", base,
         headers(sign_slack(current, t, command), content_type="application/x-www-form-urlencoded"),
         "slack-slash-command", ok(), ["valid"])
    case("slack tampered body", base, headers(sign_slack(current, t, body)), name + "-tampered",
         refused("signature-mismatch"), ["tampered"])
    case("slack timestamp header moved", base, headers(sign_slack(current, t, body), timestamp=t + 1), name,
         refused("signature-mismatch"), ["tampered"])
    case("slack wrong secret", base, headers(sign_slack(wrong, t, body)), name, refused("signature-mismatch"), ["wrong-secret"])
    stale = NOW - TOLERANCE - 1
    case("slack stale timestamp", base, headers(sign_slack(current, stale, body), timestamp=stale), name,
         refused("stale-timestamp"), ["stale-timestamp"])
    future = NOW + TOLERANCE + 1
    case("slack future timestamp", base, headers(sign_slack(current, future, body), timestamp=future), name,
         refused("future-timestamp"), ["future-timestamp"])
    case("slack missing signature", base, headers("")[:-1], name, refused("missing-header"), ["missing-header"])
    case("slack missing timestamp", base, [h for h in headers(sign_slack(current, t, body)) if h[0] != "X-Slack-Request-Timestamp"],
         name, refused("missing-header"), ["missing-header"])
    case("slack duplicated timestamp", base, headers(sign_slack(current, t, body)) + [("X-Slack-Request-Timestamp", str(t))],
         name, refused("duplicated-header"), ["duplicated-header"])
    case("slack duplicated signature", base, headers(sign_slack(current, t, body)) + [("X-Slack-Signature", sign_slack(current, t, body))],
         name, refused("duplicated-header"), ["duplicated-header"])
    case("slack signature without v0=", base, headers(hmac_digest(current, f"v0:{t}:".encode() + body).hex()), name,
         refused("malformed-header"), ["malformed-header"])
    case("slack signed with the previous secret during the overlap", settings("slack", rotating("slack", HOUR_US)),
         headers(sign_slack(previous, t, body)), name, mention, ["rotation-previous-valid"])
    case("slack signed with the new secret during the overlap", settings("slack", rotating("slack", HOUR_US)),
         headers(sign_slack(current, t, body)), name, mention, ["rotation-current-valid"])
    case("slack signed with the previous secret after it expired", settings("slack", rotating("slack", -1)),
         headers(sign_slack(previous, t, body)), name, refused("signature-mismatch"), ["rotation-expired"])


def gitlab_cases():
    current, previous, wrong = SECRETS["gitlab"]
    name = "gitlab-push-hook"
    key = "f5bd5a27-6a5c-4d0f-8d58-7b1fd0c0c2b1"
    event_uuid = "13792a34-cac6-4fda-95a8-c58e00a3954e"
    push = ok(key, "Push Hook")

    def headers(token, idempotency=True):
        found = [("Content-Type", "application/json"), ("User-Agent", "GitLab/18.6.0"),
                 ("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Webhook-UUID", "16412d5e-4f0b-4d3a-a9ab-9ac3a1e31e8b"),
                 ("X-Gitlab-Instance", "https://gitlab.example.com"), ("X-Gitlab-Event-UUID", event_uuid),
                 ("X-Gitlab-Token", token)]
        if idempotency:
            found.insert(0, ("Idempotency-Key", key))
        return found

    base = settings("gitlab")
    case("gitlab Push Hook", base, headers(current), name, push, ["valid", "dedupe-id", "provider-type"])
    case("gitlab before 17.4: the event UUID is the dedupe key", base, headers(current, idempotency=False), name,
         ok(event_uuid, "Push Hook"), ["valid", "dedupe-id"])
    case("gitlab wrong token", base, headers(wrong), name, refused("signature-mismatch"), ["wrong-secret"])
    case("gitlab token differing in the last character", base, headers(current[:-1] + "X"), name,
         refused("signature-mismatch"), ["wrong-secret"])
    case("gitlab missing token", base, headers("")[:-1], name, refused("missing-header"), ["missing-header"])
    case("gitlab duplicated token", base, headers(current) + [("X-Gitlab-Token", current)], name,
         refused("duplicated-header"), ["duplicated-header"])
    case("gitlab previous token during the overlap", settings("gitlab", rotating("gitlab", HOUR_US)),
         headers(previous), name, push, ["rotation-previous-valid"])
    case("gitlab new token during the overlap", settings("gitlab", rotating("gitlab", HOUR_US)),
         headers(current), name, push, ["rotation-current-valid"])
    case("gitlab previous token after it expired", settings("gitlab", rotating("gitlab", -1)),
         headers(previous), name, refused("signature-mismatch"), ["rotation-expired"])


def standard_webhooks_cases():
    current, previous, wrong = SECRETS["standard-webhooks"]
    body = BODIES["standard-invoice-paid"]
    name = "standard-invoice-paid"
    msg_id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    invoice = ok(msg_id, "invoice.paid")
    t = NOW - 10

    def headers(signature, family="webhook", timestamp=t):
        return [("Content-Type", "application/json"), (f"{family}-id", msg_id),
                (f"{family}-timestamp", str(timestamp)), (f"{family}-signature", signature)]

    base = settings("standard-webhooks")
    v1 = sign_standard_v1(current, msg_id, t, body)
    case("standard-webhooks v1", base, headers(v1), name, invoice, ["valid", "dedupe-id", "provider-type"])
    case("standard-webhooks svix- headers", base, headers(v1, "svix"), name, invoice, ["valid"])
    case("standard-webhooks several signatures, one valid", base,
         headers(" ".join([sign_standard_v1(wrong, msg_id, t, body), "v2,unknownversion=", v1])), name, invoice,
         ["multiple-signatures"])
    case("standard-webhooks several signatures, none valid", base,
         headers(" ".join([sign_standard_v1(wrong, msg_id, t, body), sign_standard_v1(previous, msg_id, t, body)])), name,
         refused("signature-mismatch"), ["multiple-signatures"])
    keyed = settings("standard-webhooks", secrets=[], publicKeys=[whpk(ED25519)])
    case("standard-webhooks v1a (Ed25519)", keyed, headers(sign_standard_v1a(ED25519, msg_id, t, body)), name, invoice,
         ["valid"])
    case("standard-webhooks v1a under a rotated-in second public key",
         settings("standard-webhooks", secrets=[], publicKeys=[whpk(ED25519_OTHER), whpk(ED25519)]),
         headers(sign_standard_v1a(ED25519, msg_id, t, body)), name, invoice, ["multiple-signatures"])
    case("standard-webhooks v1 and v1a, only v1a verifiable", keyed,
         headers(v1 + " " + sign_standard_v1a(ED25519, msg_id, t, body)), name, invoice, ["multiple-signatures"])
    case("standard-webhooks v1a by another key", keyed, headers(sign_standard_v1a(ED25519_OTHER, msg_id, t, body)), name,
         refused("signature-mismatch"), ["wrong-secret"])
    case("standard-webhooks v1a tampered body", keyed, headers(sign_standard_v1a(ED25519, msg_id, t, body)), name + "-tampered",
         refused("signature-mismatch"), ["tampered"])
    case("standard-webhooks tampered body", base, headers(v1), name + "-tampered", refused("signature-mismatch"), ["tampered"])
    case("standard-webhooks wrong secret", base, headers(sign_standard_v1(wrong, msg_id, t, body)), name,
         refused("signature-mismatch"), ["wrong-secret"])
    stale = NOW - TOLERANCE - 1
    case("standard-webhooks stale timestamp", base, headers(sign_standard_v1(current, msg_id, stale, body), timestamp=stale),
         name, refused("stale-timestamp"), ["stale-timestamp"])
    future = NOW + TOLERANCE + 1
    case("standard-webhooks future timestamp", base, headers(sign_standard_v1(current, msg_id, future, body), timestamp=future),
         name, refused("future-timestamp"), ["future-timestamp"])
    case("standard-webhooks missing signature", base, headers(v1)[:-1], name, refused("missing-header"), ["missing-header"])
    case("standard-webhooks missing id", base, [h for h in headers(v1) if h[0] != "webhook-id"], name,
         refused("missing-header"), ["missing-header"])
    case("standard-webhooks duplicated signature", base, headers(v1) + [("Webhook-Signature", v1)], name,
         refused("duplicated-header"), ["duplicated-header"])
    case("standard-webhooks duplicated svix id", base, headers(v1, "svix") + [("svix-id", msg_id)], name,
         refused("duplicated-header"), ["duplicated-header"])
    case("standard-webhooks no usable entry", base, headers("v2,abc v1,not-base64"), name,
         refused("malformed-header"), ["malformed-header"])
    case("standard-webhooks signed with the previous secret during the overlap",
         settings("standard-webhooks", rotating("standard-webhooks", HOUR_US)),
         headers(sign_standard_v1(previous, msg_id, t, body)), name, invoice, ["rotation-previous-valid"])
    case("standard-webhooks signed with the new secret during the overlap",
         settings("standard-webhooks", rotating("standard-webhooks", HOUR_US)), headers(v1), name, invoice,
         ["rotation-current-valid"])
    case("standard-webhooks signed with the previous secret after it expired",
         settings("standard-webhooks", rotating("standard-webhooks", -1)),
         headers(sign_standard_v1(previous, msg_id, t, body)), name, refused("signature-mismatch"), ["rotation-expired"])


def hmac_cases():
    current, previous, wrong = SECRETS["hmac"]
    body = BODIES["generic-build-finished"]
    name = "generic-build-finished"
    t = NOW - 1

    def headers(signature, extra=()):
        return [("Content-Type", "application/json"), ("X-Signature", signature)] + list(extra)

    sha256_hex = settings("hmac", header="X-Signature", algorithm="sha256", encoding="hex", prefix="sha256=")
    case("hmac sha256 hex with prefix", sha256_hex,
         headers("sha256=" + hmac_digest(current, body).hex(), [("Idempotency-Key", "build-9182")]), name,
         ok("build-9182"), ["valid", "dedupe-id"])
    case("hmac sha256 upper-case hex", sha256_hex, headers("sha256=" + hmac_digest(current, body).hex().upper()), name,
         ok(), ["valid"])
    sha512_b64 = settings("hmac", header="X-Hook-Signature", algorithm="sha512", encoding="base64")
    case("hmac sha512 base64", sha512_b64,
         [("X-Hook-Signature", base64.b64encode(hmac_digest(current, body, hashlib.sha512)).decode())], name, ok(), ["valid"])
    case("hmac sha512 base64 given a sha256", sha512_b64,
         [("X-Hook-Signature", base64.b64encode(hmac_digest(current, body)).decode())], name,
         refused("malformed-header"), ["malformed-header"])
    sha1_hex = settings("hmac", header="X-Legacy-Signature", algorithm="sha1", encoding="hex")
    case("hmac sha1 hex, explicitly chosen", sha1_hex,
         [("X-Legacy-Signature", hmac_digest(current, body, hashlib.sha1).hex())], name, ok(), ["valid"])
    stamped = settings("hmac", header="X-Signature", algorithm="sha256", encoding="hex", timestampHeader="X-Timestamp")

    def stamped_headers(key, timestamp, signed_timestamp=None):
        signed = f"{signed_timestamp if signed_timestamp is not None else timestamp}.".encode() + body
        return headers(hmac_digest(key, signed).hex(), [("X-Timestamp", str(timestamp))])

    case("hmac with a signed timestamp", stamped, stamped_headers(current, t), name, ok(), ["valid"])
    case("hmac timestamp moved", stamped, stamped_headers(current, t + 1, signed_timestamp=t), name,
         refused("signature-mismatch"), ["tampered"])
    case("hmac stale timestamp", stamped, stamped_headers(current, NOW - TOLERANCE - 1), name,
         refused("stale-timestamp"), ["stale-timestamp"])
    case("hmac future timestamp", stamped, stamped_headers(current, NOW + TOLERANCE + 1), name,
         refused("future-timestamp"), ["future-timestamp"])
    case("hmac missing timestamp", stamped, headers(hmac_digest(current, f"{t}.".encode() + body).hex()), name,
         refused("missing-header"), ["missing-header"])
    case("hmac tampered body", sha256_hex, headers("sha256=" + hmac_digest(current, body).hex()), name + "-tampered",
         refused("signature-mismatch"), ["tampered"])
    case("hmac wrong secret", sha256_hex, headers("sha256=" + hmac_digest(wrong, body).hex()), name,
         refused("signature-mismatch"), ["wrong-secret"])
    case("hmac missing prefix", sha256_hex, headers(hmac_digest(current, body).hex()), name,
         refused("malformed-header"), ["malformed-header"])
    case("hmac missing signature", sha256_hex, headers("")[:-1], name, refused("missing-header"), ["missing-header"])
    case("hmac duplicated signature", sha256_hex,
         headers("sha256=" + hmac_digest(current, body).hex(), [("x-signature", "sha256=" + hmac_digest(current, body).hex())]),
         name, refused("duplicated-header"), ["duplicated-header"])
    rotating_hex = dict(sha256_hex, secrets=rotating("hmac", HOUR_US))
    case("hmac previous secret during the overlap", rotating_hex, headers("sha256=" + hmac_digest(previous, body).hex()),
         name, ok(), ["rotation-previous-valid"])
    case("hmac new secret during the overlap", rotating_hex, headers("sha256=" + hmac_digest(current, body).hex()),
         name, ok(), ["rotation-current-valid"])
    case("hmac previous secret after it expired", dict(sha256_hex, secrets=rotating("hmac", -1)),
         headers("sha256=" + hmac_digest(previous, body).hex()), name, refused("signature-mismatch"), ["rotation-expired"])


def basic_cases():
    current, previous, wrong = SECRETS["basic"]
    name = "generic-build-finished"

    def authorization(user, password, scheme="Basic"):
        return [("Authorization", scheme + " " + base64.b64encode(f"{user}:{password}".encode()).decode())]

    base = settings("basic", username="ingest")
    case("basic", base, authorization("ingest", current), name, ok(), ["valid"])
    case("basic scheme name in lower case", base, authorization("ingest", current, "basic"), name, ok(), ["valid"])
    case("basic wrong password", base, authorization("ingest", wrong), name, refused("credentials"), ["wrong-secret"])
    case("basic wrong user", base, authorization("someone", current), name, refused("credentials"), ["wrong-secret"])
    case("basic missing header", base, [], name, refused("missing-header"), ["missing-header"])
    case("basic duplicated header", base, authorization("ingest", current) * 2, name,
         refused("duplicated-header"), ["duplicated-header"])
    case("basic bearer instead", base, [("Authorization", "Bearer abc")], name, refused("malformed-header"), ["malformed-header"])
    case("basic without a colon", base, [("Authorization", "Basic " + base64.b64encode(b"ingest").decode())], name,
         refused("malformed-header"), ["malformed-header"])
    case("basic previous password during the overlap", settings("basic", rotating("basic", HOUR_US), username="ingest"),
         authorization("ingest", previous), name, ok(), ["rotation-previous-valid"])
    case("basic new password during the overlap", settings("basic", rotating("basic", HOUR_US), username="ingest"),
         authorization("ingest", current), name, ok(), ["rotation-current-valid"])
    case("basic previous password after it expired", settings("basic", rotating("basic", -1), username="ingest"),
         authorization("ingest", previous), name, refused("credentials"), ["rotation-expired"])


def none_cases():
    case("none accepts anything", {"scheme": "none", "secrets": [], "tolerance": TOLERANCE, "publicKeys": []},
         [], "generic-build-finished", ok(), ["valid"])


for make in [github_cases, stripe_cases, shopify_cases, slack_cases, gitlab_cases, standard_webhooks_cases,
             hmac_cases, basic_cases, none_cases]:
    make()
assert len({c["name"] for c in CASES}) == len(CASES), "case names must be unique"

json.dump({
    "now": NOW_US,
    "bodies": {name: body.decode("utf-8") for name, body in sorted(BODIES.items())},
    "cases": CASES,
}, sys.stdout, indent=1, ensure_ascii=True, sort_keys=False)
sys.stdout.write("\n")
