//! The `#[capture]` attribute of `xray-sdk`. Use it through `xray_sdk::capture`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, LitStr, ReturnType, Type, parse_macro_input};

/// Records each call of a function as a subsegment of the current entity.
///
/// `#[capture]` names the subsegment after the function; `#[capture("name")]` or `#[capture(name = "name")]`
/// names it explicitly. Works on `fn` and `async fn`, free functions and methods alike. An `Err` returned
/// from a `Result` is recorded as an exception (with its `source()` chain when the error type implements
/// `std::error::Error`), and so is a panic, which then continues to unwind. In an `async fn`, the subsegment is
/// current wherever the future is polled, and a future dropped before completion ends it as a fault.
///
/// Without a current entity the function runs untraced, after the global recorder's context-missing strategy
/// has logged it (an `Err` is never returned in place of the function's own result).
#[proc_macro_attribute]
pub fn capture(attr: TokenStream, item: TokenStream) -> TokenStream {
    let name = match parse_name(attr.into()) {
        Ok(name) => name,
        Err(e) => return e.to_compile_error().into(),
    };
    let mut function = parse_macro_input!(item as ItemFn);
    let name = name.unwrap_or_else(|| function.sig.ident.to_string());
    // The body's statements, spliced into the blocks below rather than nested as a block of their own:
    // a one-line body nested whole would make the compiler warn `unused_braces` in the caller's code.
    let body = &function.block.stmts;
    let ret_ty = match &function.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    // Pins the block's return type before the body runs, so that `?` inside it converts errors into the
    // function's error type. Not possible (nor needed) for `impl Trait` returns.
    let pin_return = if returns_impl_trait(&function.sig.output) {
        quote!()
    } else {
        quote! {
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return)]
            if false {
                let __xray_pinned_return: #ret_ty = loop {};
                return __xray_pinned_return;
            }
        }
    };
    let span = function.block.span();
    let new_body = if function.sig.asyncness.is_some() {
        quote_spanned! {span=>
            {
                let __xray_guard = ::xray_sdk::__private::begin_detached(#name);
                let __xray_entity = ::core::clone::Clone::clone(__xray_guard.entity());
                let __xray_result = ::xray_sdk::__private::FutureExt::in_entity(
                    async move {
                        #pin_return
                        #(#body)*
                    },
                    __xray_entity,
                )
                .await;
                {
                    #[allow(unused_imports)]
                    use ::xray_sdk::__private::{ViaDisplay as _, ViaError as _, ViaNothing as _};
                    (&&&::xray_sdk::__private::Wrap(&__xray_result)).xray_record(__xray_guard.entity());
                }
                __xray_guard.end();
                __xray_result
            }
        }
    } else {
        quote_spanned! {span=>
            {
                let __xray_guard = ::xray_sdk::__private::begin(#name);
                #[allow(clippy::redundant_closure_call)]
                let __xray_outcome = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(move || {
                    #pin_return
                    #(#body)*
                }));
                match __xray_outcome {
                    ::core::result::Result::Ok(__xray_result) => {
                        {
                            #[allow(unused_imports)]
                            use ::xray_sdk::__private::{ViaDisplay as _, ViaError as _, ViaNothing as _};
                            (&&&::xray_sdk::__private::Wrap(&__xray_result)).xray_record(__xray_guard.entity());
                        }
                        ::core::mem::drop(__xray_guard);
                        __xray_result
                    }
                    ::core::result::Result::Err(__xray_panic) => {
                        ::xray_sdk::__private::record_panic(__xray_guard, &*__xray_panic);
                        ::std::panic::resume_unwind(__xray_panic)
                    }
                }
            }
        }
    };
    *function.block = syn::parse_quote!(#new_body);
    quote!(#function).into()
}

fn parse_name(attr: TokenStream2) -> syn::Result<Option<String>> {
    if attr.is_empty() {
        return Ok(None);
    }
    if let Ok(lit) = syn::parse2::<LitStr>(attr.clone()) {
        return Ok(Some(lit.value()));
    }
    let nv: syn::MetaNameValue = syn::parse2(attr)?;
    if !nv.path.is_ident("name") {
        return Err(syn::Error::new(
            nv.path.span(),
            "expected `name = \"...\"` or a string",
        ));
    }
    match nv.value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Ok(Some(s.value())),
        other => Err(syn::Error::new(other.span(), "expected a string literal")),
    }
}

fn returns_impl_trait(output: &ReturnType) -> bool {
    fn has_impl(ty: &Type) -> bool {
        match ty {
            Type::ImplTrait(_) => true,
            Type::Reference(r) => has_impl(&r.elem),
            Type::Paren(p) => has_impl(&p.elem),
            Type::Group(g) => has_impl(&g.elem),
            Type::Tuple(t) => t.elems.iter().any(has_impl),
            Type::Path(p) => p.path.segments.iter().any(|s| match &s.arguments {
                syn::PathArguments::AngleBracketed(a) => a.args.iter().any(|arg| match arg {
                    syn::GenericArgument::Type(t) => has_impl(t),
                    _ => false,
                }),
                _ => false,
            }),
            _ => false,
        }
    }
    match output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => has_impl(ty),
    }
}
