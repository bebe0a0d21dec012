//! Shell-style patterns for action names and paths.
//!
//! `*` matches any run of characters except `/`, `**` any run including `/`,
//! `?` one character except `/`. Everything else matches itself. For action
//! names, which hold no `/`, `*` is simply "anything".

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
    /// The literal text before the first wildcard and after the last one:
    /// a text lacking either cannot match, which settles most rules of a
    /// policy without running the general matcher.
    prefix: String,
    suffix: String,
    shape: Shape,
}

/// Patterns common enough in policies to match without the general matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// No wildcard: the text is the pattern.
    Literal,
    /// `prefix*suffix`: the middle holds no `/`.
    OneStar,
    /// `prefix**suffix`: anything in the middle.
    OneDoubleStar,
    General,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyChar,
    Star,
    DoubleStar,
    /// `/**/`: one `/`, or `/`, anything, `/`, so `/a/**/b` matches `/a/b`.
    AnyDirs,
}

impl Glob {
    pub fn new(pattern: &str) -> Self {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            let token = match c {
                '*' if chars.peek() == Some(&'*') => {
                    while chars.peek() == Some(&'*') {
                        chars.next();
                    }
                    if tokens.last() == Some(&Token::Literal('/')) && chars.peek() == Some(&'/') {
                        chars.next();
                        tokens.pop();
                        Token::AnyDirs
                    } else {
                        Token::DoubleStar
                    }
                }
                '*' => Token::Star,
                '?' => Token::AnyChar,
                c => Token::Literal(c),
            };
            tokens.push(token);
        }
        let literal = |token: &Token| match token {
            Token::Literal(c) => Some(*c),
            _ => None,
        };
        let prefix: String = tokens.iter().map_while(literal).collect();
        let wildcards = tokens.iter().filter(|t| literal(t).is_none()).count();
        let suffix: String = if wildcards == 0 {
            String::new()
        } else {
            let mut tail: Vec<char> = tokens.iter().rev().map_while(literal).collect();
            tail.reverse();
            tail.into_iter().collect()
        };
        let middle = tokens.iter().find(|t| literal(t).is_none());
        let shape = match (wildcards, middle) {
            (0, _) => Shape::Literal,
            (1, Some(Token::Star)) => Shape::OneStar,
            (1, Some(Token::DoubleStar)) => Shape::OneDoubleStar,
            _ => Shape::General,
        };
        Self {
            source: pattern.to_string(),
            tokens,
            prefix,
            suffix,
            shape,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Checked on every action against every rule, so the usual shapes
    /// allocate nothing.
    pub fn matches(&self, text: &str) -> bool {
        // Byte loops: these strings are a few bytes long, shorter than a
        // call into the C library's memcmp is worth.
        fn same(a: &[u8], b: &[u8]) -> bool {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
        }
        let (bytes, prefix, suffix) = (
            text.as_bytes(),
            self.prefix.as_bytes(),
            self.suffix.as_bytes(),
        );
        if self.shape == Shape::Literal {
            return same(bytes, self.source.as_bytes());
        }
        if bytes.len() < prefix.len() + suffix.len()
            || !same(&bytes[..prefix.len()], prefix)
            || !same(&bytes[bytes.len() - suffix.len()..], suffix)
        {
            return false;
        }
        let middle = &text[self.prefix.len()..text.len() - self.suffix.len()];
        match self.shape {
            Shape::OneStar => !middle.contains('/'),
            Shape::OneDoubleStar => true,
            Shape::Literal | Shape::General => self.matches_general(text),
        }
    }

    /// Dynamic programming over (token, position), so no pattern can take
    /// exponential time: `next[i]` says the remaining tokens match `text[i..]`.
    fn matches_general(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let len = text.len();
        let mut next = vec![false; len + 1];
        next[len] = true;
        for token in self.tokens.iter().rev() {
            let mut current = vec![false; len + 1];
            // For AnyDirs: some `/` at or after i has next[j + 1].
            let mut later_slash = false;
            for i in (0..=len).rev() {
                let here = text.get(i).copied();
                current[i] = match token {
                    Token::Literal(c) => here == Some(*c) && next[i + 1],
                    Token::AnyChar => here.is_some_and(|c| c != '/') && next[i + 1],
                    Token::Star => next[i] || (here.is_some_and(|c| c != '/') && current[i + 1]),
                    Token::DoubleStar => next[i] || (here.is_some() && current[i + 1]),
                    Token::AnyDirs => {
                        let matched = here == Some('/') && (next[i + 1] || later_slash);
                        if here == Some('/') && next[i + 1] {
                            later_slash = true;
                        }
                        matched
                    }
                };
            }
            next = current;
        }
        next[0]
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(pattern: &str, text: &str) -> bool {
        Glob::new(pattern).matches(text)
    }

    #[test]
    fn action_names() {
        assert!(m("*", "click"));
        assert!(m("delete_*", "delete_file"));
        assert!(!m("delete_*", "undelete_file"));
        assert!(m("*shell*", "run_shell"));
        assert!(m("*_window", "close_window"));
        assert!(m("click", "click"));
        assert!(!m("click", "double_click"));
        assert!(m("?ey", "key"));
    }

    #[test]
    fn paths() {
        assert!(m("/home/*/notes.txt", "/home/ana/notes.txt"));
        assert!(!m("/home/*/notes.txt", "/home/ana/sub/notes.txt"));
        assert!(m("/home/**", "/home/ana/sub/notes.txt"));
        assert!(m("/home/**", "/home/"));
        assert!(!m("/home/**", "/homes/x"));
        assert!(m("/home/**/notes.txt", "/home/ana/sub/notes.txt"));
        assert!(m("/home/**/notes.txt", "/home/notes.txt"));
        assert!(m("**/*.key", "/etc/ssl/private/server.key"));
        assert!(!m("/etc/*.conf", "/etc/ssh/sshd.conf"));
        assert!(m("/etc/*.conf", "/etc/resolv.conf"));
    }

    #[test]
    fn prefix_and_suffix_do_not_overlap() {
        assert!(!m("a*a", "a"));
        assert!(m("a*a", "aa"));
        assert!(!m("ab**ba", "aba"));
        assert!(m("ab**ba", "abba"));
        assert!(m("/x/*", "/x/"));
        assert!(!m("/x/*", "/x/y/z"));
        assert!(m("/x/**/y", "/x/a/b/y"));
        assert!(!m("/x/**/y", "/x/a/b/ay"));
        assert!(m("é*ü", "éü"));
    }

    #[test]
    fn shortcuts_agree_with_the_general_matcher() {
        let patterns = [
            "*", "**", "a*", "*a", "a*b", "a**b", "/x/*", "/x/**", "**/y", "ab", "a?b", "/a/**/b",
        ];
        let texts = [
            "", "a", "b", "ab", "ba", "aab", "a/b", "/x/", "/x/y", "/x/y/z", "y", "/y", "/a/b",
        ];
        for pattern in patterns {
            let glob = Glob::new(pattern);
            for text in texts {
                assert_eq!(
                    glob.matches(text),
                    glob.matches_general(text),
                    "{pattern} on {text:?}"
                );
            }
        }
    }

    #[test]
    fn hostile_patterns_stay_fast() {
        let pattern = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let text = "a".repeat(200);
        assert!(!m(pattern, &text));
        let pattern = "/**/**/**/**/**/**/**/**/x";
        let text = "/a".repeat(40);
        assert!(!m(pattern, &text));
    }
}
