//! The OpenAPI 3.1 document, built from [`crate::api::ROUTES`] so that it cannot drift
//! from the router (a test calls every documented route).

use serde_json::{Map, Value, json};

use crate::api::ROUTES;

fn schemas() -> Value {
    let s = |props: Value, required: &[&str]| json!({ "type": "object", "properties": props, "required": required });
    json!({
        "Login": s(json!({ "name": {"type": "string"}, "password": {"type": "string", "format": "password"},
                           "lang": {"type": "string", "enum": ["zh", "en"]} }), &["name", "password"]),
        "Action": s(json!({
            "channel": {"type": "string", "enum": ["call", "sms", "email", "voice_bot", "letter", "visit"]},
            "party": {"type": "string", "description": "borrower, attorney or one of the borrower's contact ids"},
            "outcome": {"type": "string", "enum": arrears_app::actions::OUTCOMES},
            "note": {"type": "string"},
            "ptp_amount": {"type": ["string", "null"], "description": "decimal string, major units"},
            "ptp_date": {"type": ["string", "null"], "format": "date"},
            "at": {"type": ["string", "null"], "format": "date-time"},
            "purpose": {"type": ["string", "null"], "enum": ["collect", "locate", "notice", null],
                        "description": "notice: a notice the law permits after a cease request or a dispute (us pack)"}
        }), &["channel", "party", "outcome"]),
        "Arrangement": s(json!({
            "kind": {"type": "string", "enum": arrears_app::arrangements::KINDS},
            "amount": {"type": "string", "description": "decimal string, major units"},
            "months": {"type": ["string", "null"]},
            "note": {"type": "string"}
        }), &["kind", "amount"]),
        "Assign": s(json!({ "collector": {"type": "string"} }), &["collector"]),
        "Payment": s(json!({
            "payment_id": {"type": "string", "description": "the same id is the same payment"},
            "loan_id": {"type": "string"},
            "paid_on": {"type": "string", "format": "date"},
            "amount": {"type": "string", "description": "decimal string, major units of the loan's currency"},
            "channel": {"type": "string"},
            "currency": {"type": ["string", "null"], "description": "if given, must be the loan's"}
        }), &["payment_id", "loan_id", "paid_on", "amount", "channel"]),
        "PaymentBatch": s(json!({
            "payments": {"type": "array", "maxItems": 10000, "items": {"$ref": "#/components/schemas/Payment"}}
        }), &["payments"]),
        "User": s(json!({
            "name": {"type": "string"},
            "role": {"type": "string", "enum": ["collector", "supervisor", "legal", "risk_analyst", "agency", "auditor", "admin"],
                     "description": "service accounts hold API keys instead"},
            "agency": {"type": ["string", "null"]}, "team": {"type": ["string", "null"]},
            "password": {"type": "string", "format": "password", "minLength": arrears_core::access::MIN_PASSWORD_CHARS}
        }), &["name", "role", "password"]),
        "Collector": s(json!({
            "collector_id": {"type": "string"}, "name": {"type": "string"}, "team": {"type": "string"},
            "capacity": {"type": "string", "description": "tasks a day, a whole number"},
            "queues": {"type": "string"}, "languages": {"type": "string"}
        }), &["collector_id", "name", "team", "capacity"]),
        "Agency": s(json!({
            "agency_id": {"type": "string"}, "name": {"type": "string"},
            "commission": {"type": "string", "description": "a fraction of recoveries, e.g. 0.15"}
        }), &["agency_id", "name", "commission"]),
        "Strategy": s(json!({ "text": {"type": "string", "description": "the strategy file (TOML)"} }), &["text"]),
        "Error": s(json!({ "error": {"type": "string"}, "message": {"type": "string"},
                           "rules": {"type": "array", "items": {"type": "string"}} }), &["error", "message"]),
    })
}

/// The document served at `/api/openapi.json`.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": {"type": "string"} }))
            .collect();
        let err = |what: &str| json!({ "description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}} });
        let mut responses = Map::new();
        responses.insert(r.ok.to_string(), json!({ "description": "OK" }));
        if r.auth {
            responses.insert("401".into(), err("no session"));
        }
        if r.capability.is_some() {
            responses.insert("403".into(), err("the role may not (agency users get 404 instead)"));
            responses.insert("404".into(), err("no such thing, or not visible to this user"));
        }
        if r.body.is_some() {
            responses.insert("422".into(), err("the input is wrong; the message says what and where"));
        }
        let op_id: String = format!("{} {}", r.method.to_lowercase(), r.path)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let mut op = json!({
            "summary": r.summary,
            "operationId": op_id,
            "parameters": params,
            "responses": responses,
        });
        if r.auth {
            op["security"] = if r.capability == Some(arrears_core::access::Capability::BookPayments) {
                json!([{ "apiKey": [] }])
            } else {
                json!([{ "session": [] }])
            };
        }
        if let Some(body) = r.body {
            op["requestBody"] = json!({ "required": true,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}} });
        }
        if r.auth
            && r.method != "GET"
            && r.capability != Some(arrears_core::access::Capability::BookPayments)
            && let Some(p) = op["parameters"].as_array_mut()
        {
            p.push(json!({ "name": "x-csrf-token", "in": "header", "required": true, "schema": {"type": "string"},
                           "description": "the csrf_token of login or /api/v1/me" }));
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "arrears API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Loan collection and post-loan management (贷款催收管理系统). Amounts are decimal strings.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" }
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE },
                "apiKey": { "type": "http", "scheme": "bearer", "description": "a service account's key (arrears apikey create)" }
            }
        }
    })
}
