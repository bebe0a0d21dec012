//! Shell-style patterns for action names and paths.
//!
//! `*` matches any run of characters except `/`, `**` any run including `/`,
//! `?` one character except `/`. Everything else matches itself. For action
//! names, which hold no `/`, `*` is simply "anything".

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
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
        Self {
            source: pattern.to_string(),
            tokens,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Dynamic programming over (token, position), so no pattern can take
    /// exponential time: `next[i]` says the remaining tokens match `text[i..]`.
    pub fn matches(&self, text: &str) -> bool {
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
    fn hostile_patterns_stay_fast() {
        let pattern = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let text = "a".repeat(200);
        assert!(!m(pattern, &text));
        let pattern = "/**/**/**/**/**/**/**/**/x";
        let text = "/a".repeat(40);
        assert!(!m(pattern, &text));
    }
}
