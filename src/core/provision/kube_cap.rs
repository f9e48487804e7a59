//! A cap on what a Kubernetes apiserver may make us hold in memory. kube-rs reads a LIST answer
//! whole before decoding it, and a watch line whole before decoding that event: an apiserver
//! (or something in front of it) that sends an endless body or a line without end would grow
//! the cockpit without bound. [`BodyCapLayer`] wraps the client's service so that
//!
//! * an ordinary answer (LIST, GET, …) over `Limits::max_body` is refused — before reading when
//!   its `Content-Length` says so, else as it crosses the cap;
//! * on a watch (`watch=1`/`watch=true`), each line (one event) over the same cap is refused,
//!   however long the watch itself runs.
//!
//! Every kube client we build carries it as its outermost layer
//! ([`crate::provision::kube_transport::client`]). The error names the cluster and the cap
//! (`the apiserver of X: a LIST answer is larger than 64 MiB (cap SOVTUI_MAX_BODY); refused`);
//! the fleet shows it as the Sovereign's "unreachable" reason and retries with its backoff.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::provision::limits::show_size;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The refusal: which cluster, what was too large, and the cap.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the apiserver of {cluster}: {what} is larger than {} (cap SOVTUI_MAX_BODY); refused",
    show_size(*cap)
)]
pub struct TooLarge {
    pub cluster: String,
    pub what: &'static str,
    pub cap: usize,
}

/// Layer for `kube::client::ClientBuilder::with_layer`.
#[derive(Clone, Debug)]
pub struct BodyCapLayer {
    cluster: String,
    cap: usize,
}

impl BodyCapLayer {
    pub fn new(cluster: impl Into<String>, cap: usize) -> Self {
        BodyCapLayer {
            cluster: cluster.into(),
            cap,
        }
    }
}

impl<S> tower::Layer<S> for BodyCapLayer {
    type Service = BodyCap<S>;

    fn layer(&self, inner: S) -> BodyCap<S> {
        BodyCap {
            inner,
            cluster: self.cluster.clone(),
            cap: self.cap,
        }
    }
}

#[derive(Clone, Debug)]
pub struct BodyCap<S> {
    inner: S,
    cluster: String,
    cap: usize,
}

fn is_watch<B>(req: &http::Request<B>) -> bool {
    req.uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "watch=1" || kv == "watch=true"))
}

impl<S, ReqB, B> tower::Service<http::Request<ReqB>> for BodyCap<S>
where
    S: tower::Service<http::Request<ReqB>, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Capped<B>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<ReqB>) -> Self::Future {
        let watch = is_watch(&req);
        let too_large = TooLarge {
            cluster: self.cluster.clone(),
            what: if watch { "a watch event" } else { "an answer" },
            cap: self.cap,
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await.map_err(Into::into)?;
            if !watch
                && let Some(len) = res
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                && len > too_large.cap as u64
            {
                return Err(Box::new(too_large) as BoxError);
            }
            Ok(res.map(|inner| Capped {
                inner,
                watch,
                count: 0,
                too_large,
            }))
        })
    }
}

/// A response body that fails once more than the cap has come (in total, or since the last
/// newline on a watch).
pub struct Capped<B> {
    inner: B,
    watch: bool,
    count: usize,
    too_large: TooLarge,
}

impl<B> Body for Capped<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    match (this.watch, memchr_last_newline(data)) {
                        (true, Some(i)) => this.count = data.len() - i - 1,
                        _ => this.count = this.count.saturating_add(data.len()),
                    }
                    if this.count > this.too_large.cap {
                        return Poll::Ready(Some(Err(Box::new(this.too_large.clone()))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn memchr_last_newline(data: &[u8]) -> Option<usize> {
    data.iter().rposition(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn capped(chunks: Vec<&'static [u8]>, watch: bool, cap: usize) -> Capped<TestBody> {
        Capped {
            inner: TestBody(chunks.into_iter().map(Bytes::from_static).collect()),
            watch,
            count: 0,
            too_large: TooLarge {
                cluster: "x.example".into(),
                what: if watch { "a watch event" } else { "an answer" },
                cap,
            },
        }
    }

    struct TestBody(std::collections::VecDeque<Bytes>);

    impl Body for TestBody {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_refused_naming_cluster_and_cap() {
        let err = capped(vec![b"0123456789", b"0123456789"], false, 15)
            .collect()
            .await
            .expect_err("over the cap");
        assert_eq!(
            err.to_string(),
            "the apiserver of x.example: an answer is larger than 15 bytes (cap SOVTUI_MAX_BODY); refused"
        );
        assert!(
            capped(vec![b"0123456789", b"01234"], false, 15)
                .collect()
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_watch_is_capped_per_line_not_in_total() {
        let many = vec![&b"0123456789\n"[..]; 100];
        assert!(capped(many, true, 15).collect().await.is_ok());
        let err = capped(vec![b"01234\n0123456789", b"0123456789"], true, 15)
            .collect()
            .await
            .expect_err("one line over the cap");
        assert!(err.to_string().contains("a watch event is larger"), "{err}");
    }
}
