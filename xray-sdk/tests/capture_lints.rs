//! `#[capture]` leaves no lint in the code it is put on: a one-line body keeps its braces.

#![deny(unused_braces)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use xray_sdk::capture;

#[capture]
#[rustfmt::skip]
fn one_line(a: u32) -> u32 { a + 1 }

#[capture]
#[rustfmt::skip]
fn one_line_unit() { let _ = 1; }

#[capture]
#[rustfmt::skip]
async fn one_line_async(a: u32) -> u32 { a + 1 }

#[capture]
#[rustfmt::skip]
fn one_line_impl() -> impl Iterator<Item = u32> { 0..2 }

#[tokio::test]
async fn captured_one_line_functions_run() {
    assert_eq!(one_line(1), 2);
    one_line_unit();
    assert_eq!(one_line_impl().count(), 2);
    assert_eq!(one_line_async(1).await, 2);
}
