//! A port for "connection refused" that no other process can take while the test runs.
#![allow(dead_code, clippy::unwrap_used)]

/// A loopback address that nothing listens on: a socket bound to it that never listens, held by the caller, so
/// that connections are refused and nothing else can take the port meanwhile.
pub fn closed_port() -> (socket2::Socket, std::net::SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    (socket, addr)
}
