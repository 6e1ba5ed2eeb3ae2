//! wildmat ([RFC 3977 §4](https://www.rfc-editor.org/rfc/rfc3977#section-4)): comma-separated
//! patterns of literal characters, `*` (any run) and `?` (one UTF-8 character), each one
//! negated by a leading `!`. A name matches the wildmat when the *rightmost* pattern that
//! matches it is not negated.
//!
//! Matching one pattern walks the name once, going back only to the last `*` seen: at most
//! (name length × pattern length) steps, so no pattern, however many stars it holds, costs
//! more than that (the backtracking matchers that take exponential time on `*a*a*a*b` do not
//! exist here).

/// Characters a pattern may hold besides `*` and `?` (RFC 3977 §4.1's `wildmat-exact`):
/// printable, and none of `!*,?[\]`.
fn is_exact(b: u8) -> bool {
    (b > b' ' && b != 0x7f) && !b"!*,?[\\]".contains(&b)
}

/// Whether `s` is a wildmat: patterns separated by commas, none empty, each of exact
/// characters and wildcards with at most a leading `!` (accepted on the first too, as
/// servers do).
pub fn is_wildmat(s: &str) -> bool {
    !s.is_empty()
        && s.split(',').all(|p| {
            let p = p.strip_prefix('!').unwrap_or(p);
            !p.is_empty() && p.bytes().all(|b| b == b'*' || b == b'?' || is_exact(b))
        })
}

/// A parsed wildmat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wildmat<'a> {
    /// `(negated, pattern)`, in the order written.
    patterns: Vec<(bool, &'a [u8])>,
}

impl<'a> Wildmat<'a> {
    /// Parses `s`; `None` if it is not a wildmat.
    pub fn parse(s: &'a str) -> Option<Self> {
        if !is_wildmat(s) {
            return None;
        }
        let patterns = s
            .split(',')
            .map(|p| match p.strip_prefix('!') {
                Some(rest) => (true, rest.as_bytes()),
                None => (false, p.as_bytes()),
            })
            .collect();
        Some(Self { patterns })
    }

    /// Whether `name` matches: the rightmost pattern that matches it decides.
    pub fn matches(&self, name: &str) -> bool {
        self.patterns.iter().rev().find(|(_, p)| glob(p, name.as_bytes())).is_some_and(|(negated, _)| !negated)
    }
}

/// The length of the UTF-8 sequence a lead byte starts (1 for a stray continuation byte,
/// so a walk never stalls).
fn char_len(lead: u8) -> usize {
    match lead {
        0xf0..=0xf7 => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// One pattern against a whole name.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // The last `*` seen, and where in the name its run currently ends.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'?') => {
                p += 1;
                n = (n + char_len(name[n])).min(name.len());
            }
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                // Let the last star take one more character, and try again after it.
                Some((sp, sn)) => {
                    let next = (sn + char_len(name[sn])).min(name.len());
                    star = Some((sp, next));
                    p = sp + 1;
                    n = next;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(w: &str, name: &str) -> bool {
        Wildmat::parse(w).unwrap_or_else(|| panic!("{w} is a wildmat")).matches(name)
    }

    /// RFC 3977 §4.4's examples.
    #[test]
    fn rfc3977_examples() {
        // "a*,!*b,*c*" matches "aaa", "xxxcxxx", "abc" (c rightmost), not "abb" nor "xxx".
        for (name, expected) in [("aaa", true), ("abb", false), ("ccb", true), ("xxx", false)] {
            assert_eq!(m("a*,!*b,*c*", name), expected, "{name}");
        }
        assert!(m("a*,!*b,*c*", "abc"));
        // "*,!a*" : everything but names starting with a.
        assert!(m("*,!a*", "comp.lang") && !m("*,!a*", "alt.test"));
        assert!(m("comp.*,!comp.lang.*", "comp.os") && !m("comp.*,!comp.lang.*", "comp.lang.c"));
        assert!(m("comp.lang.?", "comp.lang.c") && !m("comp.lang.?", "comp.lang.cpp"));
        // `?` is one UTF-8 character, not one octet.
        assert!(m("caf?", "café") && !m("caf??", "café"));
        assert!(m("*", "") || !is_wildmat(""), "an empty name is matched by `*`");
        assert!(!m("!*", "anything"), "a lone negation matches nothing");
    }

    #[test]
    fn syntax() {
        for good in ["*", "comp.*", "a*,!*b,*c*", "!alt.*", "news.?"] {
            assert!(is_wildmat(good), "{good}");
        }
        for bad in ["", ",", "a,,b", "a,!", "a[bc]", "a\\b", "a b", "a\tb", "x\u{7f}"] {
            assert!(!is_wildmat(bad), "{bad:?}");
        }
    }

    /// A pattern of many stars against a long name ends after at most
    /// (name × pattern) steps: the test would not end with a backtracking matcher.
    #[test]
    fn hostile_patterns_cost_at_most_name_times_pattern() {
        let name = "a".repeat(500);
        let pattern = format!("{}b", "*a".repeat(200));
        assert!(!m(&pattern, &name));
        let pattern = format!("{}?", "*?".repeat(200));
        assert!(m(&pattern, &name));
    }

    proptest::proptest! {
        /// Against a reference matcher (dynamic programming over characters), for names and
        /// patterns over a small alphabet where the cases meet.
        #[test]
        fn agrees_with_a_reference(pattern in "[ab*?]{1,8}", name in "[abé]{0,8}") {
            fn reference(p: &[char], n: &[char]) -> bool {
                let mut dp = vec![vec![false; n.len() + 1]; p.len() + 1];
                dp[0][0] = true;
                for i in 1..=p.len() {
                    dp[i][0] = dp[i - 1][0] && p[i - 1] == '*';
                    for j in 1..=n.len() {
                        dp[i][j] = match p[i - 1] {
                            '*' => dp[i - 1][j] || dp[i][j - 1],
                            '?' => dp[i - 1][j - 1],
                            c => dp[i - 1][j - 1] && c == n[j - 1],
                        };
                    }
                }
                dp[p.len()][n.len()]
            }
            let p: Vec<char> = pattern.chars().collect();
            let n: Vec<char> = name.chars().collect();
            proptest::prop_assert_eq!(glob(pattern.as_bytes(), name.as_bytes()), reference(&p, &n));
        }
    }
}
