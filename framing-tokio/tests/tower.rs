//! The client as a `tower::Service` (feature `tower`): it composes with
//! tower's middleware, here a timeout layer.

use std::time::Duration;

use framing_tokio::{Bytes, CallError, Client, Server};
use tower::{Service, ServiceBuilder, ServiceExt};

#[tokio::test]
async fn the_client_is_a_tower_service_that_composes_with_a_timeout_layer() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::serve(listener, |req: Bytes| async move {
        if req.as_ref() == b"slow" {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        req
    });
    let client = Client::connect(server.local_addr().unwrap()).await.unwrap();

    // Bare: the client itself.
    let mut bare = client.clone();
    let answer = bare.ready().await.unwrap().call(Bytes::from("ping")).await;
    assert_eq!(answer, Ok(Bytes::from("ping")));

    // Behind tower's timeout.
    let mut svc = ServiceBuilder::new()
        .timeout(Duration::from_millis(200))
        .service(client.clone());
    let answer = svc.ready().await.unwrap().call(Bytes::from("fast")).await;
    assert_eq!(answer.unwrap(), Bytes::from("fast"));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(Bytes::from("slow"))
        .await
        .unwrap_err();
    assert!(
        err.is::<tower::timeout::error::Elapsed>(),
        "expected tower's timeout, got {err}"
    );

    // Tower dropped the timed-out call, which cancelled it in the client;
    // the connection keeps working.
    // The cancel travels to the driver without a reply: wait for it.
    let mut waited = 0;
    while client.stats().cancelled == 0 && waited < 5_000 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        waited += 1;
    }
    assert_eq!(client.stats().cancelled, 1);
    let again = svc.ready().await.unwrap().call(Bytes::from("again")).await;
    assert_eq!(again.unwrap(), Bytes::from("again"));

    client.close();
    let after = bare.ready().await.unwrap().call(Bytes::from("x")).await;
    assert_eq!(after, Err(CallError::Closed));
    server.shutdown(Duration::from_millis(100)).await;
}
