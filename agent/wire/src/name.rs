//! Reading an enumeration back from its wire name (a stored column, a
//! command-line word), where serde's catch-all does not apply.

/// A name no variant of `kind` has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
    /// Every name that would have been accepted.
    pub valid: Vec<&'static str>,
}

impl UnknownName {
    /// The variant of `all` named `text`.
    pub(crate) fn find<T: Copy>(
        kind: &'static str,
        all: &[T],
        name: fn(T) -> &'static str,
        text: &str,
    ) -> Result<T, Self> {
        all.iter()
            .copied()
            .find(|v| name(*v) == text)
            .ok_or_else(|| Self {
                kind,
                name: text.to_string(),
                valid: all.iter().map(|v| name(*v)).collect(),
            })
    }
}

impl std::fmt::Display for UnknownName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown {} {:?}: one of {}",
            self.kind,
            self.name,
            self.valid.join(", ")
        )
    }
}

impl std::error::Error for UnknownName {}
