//! The HTTP routes: JSON in and out, errors as `{"error": "..."}` with a 4xx (503 for a
//! store failure). Handlers parse and check the request, then run the engine's work on the
//! blocking pool (`interview`).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Live;
use crate::interview::{self, AnswerMap, Failure};

/// What every handler shares.
#[derive(Clone)]
pub struct State {
    /// The engine, on the quota store.
    pub engine: Arc<Live>,
    prometheus: PrometheusHandle,
}

impl State {
    /// The shared state of a service.
    pub fn new(engine: Arc<Live>, prometheus: PrometheusHandle) -> State {
        State { engine, prometheus }
    }
}

/// The service's routes.
pub fn router(state: State) -> Router {
    Router::new()
        .route("/v1/next", post(next))
        .route("/v1/answer", post(answer))
        .route("/v1/complete", post(complete))
        .route("/v1/abandon", post(abandon))
        .route("/v1/quotas", get(quotas))
        .route("/v1/categories/{id}/target", put(set_target))
        .route("/metrics", get(metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route".into()) })
        .with_state(state)
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Invalid(m) => error(StatusCode::UNPROCESSABLE_ENTITY, m),
            Failure::NotFound(m) => error(StatusCode::NOT_FOUND, m),
            Failure::Conflict(m) => error(StatusCode::CONFLICT, m),
            Failure::Unavailable(m) => error(StatusCode::SERVICE_UNAVAILABLE, m),
        }
    }
}

/// The body, or the rejection as a JSON error naming what is wrong (the field, the type
/// expected, the unknown field's name).
fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, Response> {
    body.map(|Json(v)| v)
        .map_err(|r| error(r.status(), r.body_text()))
}

/// Runs `work` on the blocking pool: it may wait on the store.
async fn blocking<T: Send + 'static>(
    state: &State,
    work: impl FnOnce(&Live) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Response> {
    let engine = state.engine.clone();
    match tokio::task::spawn_blocking(move || work(&engine)).await {
        Ok(result) => result.map_err(IntoResponse::into_response),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NextIn {
    respondent: String,
    answers: Option<AnswerMap>,
}

async fn next(Shared(s): Shared<State>, b: Result<Json<NextIn>, JsonRejection>) -> Response {
    let reply = async {
        let b = body(b)?;
        blocking(&s, move |e| interview::next(e, &b.respondent, b.answers)).await
    };
    match reply.await {
        Ok(offer) => Json(json!({ "offer": offer })).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerIn {
    respondent: String,
    category: String,
    qualified: bool,
}

async fn answer(Shared(s): Shared<State>, b: Result<Json<AnswerIn>, JsonRejection>) -> Response {
    let reply = async {
        let b = body(b)?;
        blocking(&s, move |e| {
            interview::answer(e, &b.respondent, &b.category, b.qualified)
        })
        .await
    };
    match reply.await {
        Ok(result) => Json(json!({ "result": result })).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteIn {
    respondent: String,
    category: String,
}

async fn complete(
    Shared(s): Shared<State>,
    b: Result<Json<CompleteIn>, JsonRejection>,
) -> Response {
    let reply = async {
        let b = body(b)?;
        blocking(&s, move |e| {
            interview::complete(e, &b.respondent, &b.category)
        })
        .await
    };
    match reply.await {
        Ok(result) => Json(json!({ "result": result })).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AbandonIn {
    respondent: String,
}

async fn abandon(Shared(s): Shared<State>, b: Result<Json<AbandonIn>, JsonRejection>) -> Response {
    let reply = async {
        let b = body(b)?;
        blocking(&s, move |e| interview::abandon(e, &b.respondent)).await
    };
    match reply.await {
        Ok(released) => Json(json!({ "released": released })).into_response(),
        Err(r) => r,
    }
}

/// A category as the API shows it.
fn category_json(id: &str, count: &quotaroute::store::Count) -> Value {
    json!({
        "id": id,
        "target": count.max,
        "completed": count.completed,
        "pending": count.pending,
    })
}

async fn quotas(Shared(s): Shared<State>) -> Response {
    let reply = blocking(&s, |e| {
        let counts = interview::counts(e)?;
        let catalogue = e.catalogue();
        let categories: Vec<Value> = catalogue
            .categories()
            .iter()
            .zip(&counts)
            .map(|(c, n)| category_json(&c.key, n))
            .collect();
        // Completes beyond the max, over categories and cells: 0 unless a target was lowered
        // below holds taken before the change.
        let overfill: u64 = counts
            .iter()
            .map(|n| u64::from(n.completed.saturating_sub(n.max)))
            .sum();
        Ok(json!({ "categories": categories, "overfill": overfill }))
    })
    .await;
    match reply {
        Ok(doc) => Json(doc).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetIn {
    target: u32,
}

async fn set_target(
    Shared(s): Shared<State>,
    Path(id): Path<String>,
    b: Result<Json<TargetIn>, JsonRejection>,
) -> Response {
    let reply = async {
        let b = body(b)?;
        let key = id.clone();
        blocking(&s, move |e| interview::set_target(e, &key, b.target)).await
    };
    match reply.await {
        Ok(count) => Json(category_json(&id, &count)).into_response(),
        Err(r) => r,
    }
}

async fn metrics(Shared(s): Shared<State>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        s.prometheus.render(),
    )
        .into_response()
}
