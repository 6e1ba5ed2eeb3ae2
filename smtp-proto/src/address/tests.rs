use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;

fn rev(s: &str) -> Result<ReversePath<'_>, PathError> {
    ReversePath::parse(s.as_bytes()).map(|(p, rest)| {
        assert!(rest.is_empty(), "left over: {rest:?}");
        p
    })
}

fn fwd(s: &str) -> Result<ForwardPath<'_>, PathError> {
    ForwardPath::parse(s.as_bytes()).map(|(p, rest)| {
        assert!(rest.is_empty(), "left over: {rest:?}");
        p
    })
}

fn mbox<'a>(local: &'a str, domain: Domain<'a>) -> Mailbox<'a> {
    Mailbox { local_part: local.into(), domain }
}

#[test]
fn null_and_simple_paths() {
    assert_eq!(rev("<>").unwrap(), ReversePath::Null);
    assert_eq!(
        rev("<john.smith@example.com>").unwrap(),
        ReversePath::Mailbox(mbox("john.smith", Domain::Name("example.com".into())))
    );
}

#[test]
fn postmaster_without_domain_is_special_in_any_case() {
    assert_eq!(fwd("<Postmaster>").unwrap(), ForwardPath::Postmaster);
    assert_eq!(fwd("<POSTMASTER>").unwrap(), ForwardPath::Postmaster);
    // With a domain it is an ordinary mailbox.
    assert_eq!(
        fwd("<postmaster@example.org>").unwrap(),
        ForwardPath::Mailbox(mbox("postmaster", Domain::Name("example.org".into())))
    );
    // The null path is not a forward path.
    assert!(fwd("<>").is_err());
}

#[test]
fn source_routes_are_accepted_and_ignored() {
    let p = fwd("<@relay1.example,@relay2.example:user@final.example>").unwrap();
    assert_eq!(p, ForwardPath::Mailbox(mbox("user", Domain::Name("final.example".into()))));
    assert!(fwd("<@relay1.example user@final.example>").is_err());
    assert!(fwd("<@:user@final.example>").is_err());
}

#[test]
fn quoted_local_parts() {
    let p = rev(r#"<"john \"jr\" smith"@example.com>"#).unwrap();
    let m = p.mailbox().unwrap();
    assert_eq!(m.local_part, r#""john \"jr\" smith""#);
    assert_eq!(m.local_part_unquoted(), r#"john "jr" smith"#);
    assert_eq!(rev(r#"<"a@b"@example.com>"#).unwrap().mailbox().unwrap().local_part_unquoted(), "a@b");
    // Unterminated quote, and a quoted pair with a control character.
    assert!(rev(r#"<"abc@example.com>"#).is_err());
    assert!(rev("<\"a\\\x01\"@example.com>").is_err());
}

#[test]
fn dot_string_rules() {
    assert!(rev("<a.b.c@example.com>").is_ok());
    assert!(rev("<!#$%&'*+-/=?^_`{|}~@example.com>").is_ok());
    for bad in ["<.a@example.com>", "<a.@example.com>", "<a..b@example.com>", "<a b@example.com>", "<@example.com>"] {
        assert!(rev(bad).is_err(), "{bad}");
    }
}

#[test]
fn domains() {
    assert!(rev("<a@x>").is_ok());
    assert!(rev("<a@xn--bcher-kva.example>").is_ok());
    assert!(rev("<a@a-b.c-d.example>").is_ok());
    for bad in ["<a@-x.example>", "<a@x-.example>", "<a@x..example>", "<a@x.example.>", "<a@>", "<a@x_y.example>"] {
        assert!(rev(bad).is_err(), "{bad}");
    }
    let label = "a".repeat(64);
    assert_eq!(rev(&format!("<a@{label}.example>")), Err(PathError::TooLong));
}

#[test]
fn address_literals() {
    let p = rev("<a@[192.0.2.1]>").unwrap();
    assert_eq!(p.mailbox().unwrap().domain, Domain::Ipv4(Ipv4Addr::new(192, 0, 2, 1)));
    let p = rev("<a@[IPv6:2001:db8::1]>").unwrap();
    assert_eq!(p.mailbox().unwrap().domain, Domain::Ipv6("2001:db8::1".parse::<Ipv6Addr>().unwrap()));
    let p = rev("<a@[ipv6:::1]>").unwrap();
    assert_eq!(p.mailbox().unwrap().domain, Domain::Ipv6(Ipv6Addr::LOCALHOST));
    let p = rev("<a@[x-tag:some+content]>").unwrap();
    assert_eq!(p.mailbox().unwrap().domain, Domain::general("x-tag", "some+content"));
    for bad in ["<a@[300.0.0.1]>", "<a@[IPv6:zz]>", "<a@[192.0.2.1>", "<a@[-x:y]>", "<a@[x:]>", "<a@[x:[]>"] {
        assert!(rev(bad).is_err(), "{bad}");
    }
}

#[test]
fn utf8_addresses_parse_and_report_non_ascii() {
    let p = rev("<jösé@bücher.example>").unwrap();
    assert!(!p.is_ascii());
    assert_eq!(p.mailbox().unwrap().to_string(), "jösé@bücher.example");
    // Invalid UTF-8 is refused.
    assert_eq!(ReversePath::parse(b"<\xff@example.com>").map(|_| ()), Err(PathError::InvalidUtf8));
}

#[test]
fn path_length_limit() {
    // 256 octets with brackets is the most RFC 5321 §4.5.3.1.3 allows.
    let local = "a".repeat(64);
    let domain = format!("{}.{}.{}.example", "b".repeat(60), "c".repeat(60), "d".repeat(59));
    let at_limit = format!("<{local}@{domain}>");
    assert_eq!(at_limit.len(), 256);
    assert!(rev(&at_limit).is_ok());
    let over = format!("<{local}x@{domain}>");
    assert_eq!(rev(&over), Err(PathError::TooLong));
}

#[test]
fn trailing_bytes_are_returned() {
    let (p, rest) = ReversePath::parse(b"<a@b.c> SIZE=10").unwrap();
    assert!(matches!(p, ReversePath::Mailbox(_)));
    assert_eq!(rest, b" SIZE=10");
}

#[test]
fn encode_validates_and_writes_nothing_on_error() {
    let mut out = b"prefix".to_vec();
    let bad = Mailbox { local_part: "a>b\r\nRCPT".into(), domain: Domain::Name("x.example".into()) };
    assert!(ReversePath::Mailbox(bad).encode(&mut out).is_err());
    assert_eq!(out, b"prefix");
    let bad_tag = Domain::general("IPv6", "::1");
    assert!(ForwardPath::Mailbox(mbox("a", bad_tag)).encode(&mut out).is_err());
    let good = ForwardPath::Mailbox(mbox("a", Domain::Ipv6(Ipv6Addr::LOCALHOST)));
    good.encode(&mut out).unwrap();
    assert_eq!(out, b"prefix<a@[IPv6:::1]>");
}

/// Found by the `command_to_bytes_and_back` fuzz target: a tag holding `:` wrote bytes that
/// parse as another address literal.
#[test]
fn encode_refuses_values_that_would_parse_as_another() {
    let tricky = Domain::general("Caaaaaaaa:aaaaaaaaaaaa", "");
    let mut out = Vec::new();
    assert!(ReversePath::Mailbox(mbox("Dc", tricky)).encode(&mut out).is_err());
    assert!(out.is_empty());
    let empty_content = Domain::general("x", "");
    assert!(ReversePath::Mailbox(mbox("a", empty_content)).encode(&mut out).is_err());
}

fn path_tokens() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let token = prop_oneof![
        6 => "[a-zA-Z0-9]{1,9}",
        2 => Just(".".to_owned()),
        2 => Just("-".to_owned()),
        1 => prop_oneof![Just("_".to_owned()), Just("+".to_owned()), Just("=".to_owned()), Just("@".to_owned())],
        1 => prop_oneof![Just("\"".to_owned()), Just("[".to_owned()), Just("ä".to_owned()), Just("!".to_owned()), Just(" ".to_owned()), Just(">".to_owned())],
    ];
    (proptest::collection::vec(token.clone(), 0..9), proptest::collection::vec(token, 0..12), any::<bool>()).prop_map(
        |(local, domain, close)| format!("<{}@{}{}", local.concat(), domain.concat(), if close { ">" } else { "" }),
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 20_000, ..Default::default() })]

    /// Whatever the fast path accepts, the full grammar accepts alike.
    #[test]
    fn fast_path_agrees_with_the_grammar(s in path_tokens()) {
        if let Some((fast, rest)) = simple_path(&s) {
            proptest::prop_assert_eq!(Ok((fast, s.len() - rest.len())), path_grammar(&s));
        }
    }
}

#[test]
fn fast_path_is_taken_by_ordinary_paths_and_left_by_others() {
    assert!(simple_path("<first.last@c-d.example>").is_some());
    assert!(simple_path("<newsletter-bounces+user=example.org@lists.example.com>").is_some());
    for other in [
        "<\"quoted\"@example.org>",
        "<postmaster@[192.0.2.1]>",
        "<@relay.example:a@example.org>",
        "<jürgen@example.org>",
        "<a!b@example.org>",
        "<alice@example.org",
        "<a@b.example>",
    ] {
        assert!(simple_path(other).is_none(), "{other}");
    }
    // Dots and hyphens in every position, across the sixteen-octet blocks.
    for bad in [
        "<.alice@example.org>",
        "<alice.@example.org>",
        "<alice@.example.org>",
        "<alice@example.org.>",
        "<alice@example.org->",
        "<alice@example-.org>",
        "<alice@example.-org>",
        "<alice@example..org>",
        "<abcdefghijklmn..h@example.org>",
        "<abcdefghijklmno..i@example.org>",
        "<alice@abcdefghijklmno.-hij>",
        "<alice@abcdefghijklmn-.o>",
        "<@example.org.example>",
        "<alice.example.org@>",
        "<alice.example.org@x@y>",
    ] {
        assert!(simple_path(bad).is_none(), "{bad}");
    }
    for good in [
        "<a.b.c.d.e.f.g.h.i@x-y.z-w.v>",
        "<abcdefghijklmnop@q-r-s-t-u-v-w-x.yz>",
        "<a-@example.org>",
        "<-a@example.org>",
        "<_+=@example.org>",
    ] {
        assert_eq!(simple_path(good).map(|m| m.0), path_grammar(good).ok().map(|m| m.0), "{good}");
        assert!(simple_path(good).is_some(), "{good}");
    }
    // 64 octets is the fast path's window; longer paths go to the grammar, which allows
    // 63-octet labels and not 64
    // (octet 64 may be the closing `>`: it is read, not classified).
    for (label, fast) in [(58, true), (59, true), (60, false), (61, false)] {
        let path = format!("<a@{}.c>", "b".repeat(label));
        assert_eq!(simple_path(&path).is_some(), fast, "{}", path.len());
        assert!(path_grammar(&path).is_ok());
    }
    // `@` and `>` at the window's last octets (shifts by 63 and 64 must not overflow).
    for local in 60..66 {
        for tail in ["@b>", "@>", "@bc>", ">", "@", ""] {
            let path = format!("<{}{tail}", "a".repeat(local));
            if let Some((fast, rest)) = simple_path(&path) {
                assert_eq!(Ok((fast, path.len() - rest.len())), path_grammar(&path), "{path}");
            }
        }
    }
    let ok = format!("<a@{}.c>", "b".repeat(63));
    let long = format!("<a@{}.c>", "b".repeat(64));
    assert!(path_grammar(&ok).is_ok() && path_grammar(&long).is_err());
}
