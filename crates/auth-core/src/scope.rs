//! Scopes: validated scope tokens, the canonical scope set, Markable's two scopes.
//!
//! RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`,
//! `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )` — printable ASCII except
//! space, `"` and `\`. Order carries no meaning, so [`Scopes`] is an ordered
//! set whose canonical string (sorted, single spaces) can key a cache.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// One validated scope token, such as `read` or `https://x/y.readonly`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(Box<str>);

impl Scope {
    /// Validates one scope token (RFC 6749 §3.3).
    pub fn new(token: &str) -> Result<Self, Error> {
        if token.is_empty() {
            return Err(Error::InvalidScope {
                scope: String::new(),
                reason: "a scope token cannot be empty".into(),
            });
        }
        if let Some(bad) = token.chars().find(|&c| !is_scope_char(c)) {
            return Err(Error::InvalidScope {
                scope: token.escape_debug().to_string(),
                reason: format!(
                    "{:?} is not allowed in a scope token (RFC 6749 §3.3 allows printable ASCII except space, '\"' and '\\'); separate several scopes with spaces",
                    bad
                ),
            });
        }
        Ok(Self(token.into()))
    }

    /// The scope token.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Scope {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

fn is_scope_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// A set of scopes with one canonical spelling.
///
/// ```
/// use auth_core::Scopes;
/// let a: Scopes = "write  read".parse().unwrap();
/// let b: Scopes = "read write read".parse().unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "read write");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// No scopes: the request carries no `scope` parameter and the server
    /// grants its default (RFC 6749 §3.3).
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a space-delimited scope string. Runs of spaces are accepted
    /// because servers and people produce them; every token is validated.
    pub fn parse(s: &str) -> Result<Self, Error> {
        s.split(' ')
            .filter(|t| !t.is_empty())
            .map(Scope::new)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// Builds a set from scope tokens, validating each.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        tokens
            .into_iter()
            .map(|t| Scope::new(t.as_ref()))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of scopes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether `scope` is in the set.
    #[must_use]
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    /// The scopes in canonical (sorted) order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// The scopes of `self` that `other` lacks.
    #[must_use]
    pub fn difference(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.difference(&other.0).cloned().collect())
    }

    /// The canonical string: sorted, single-space separated. Stable across
    /// releases, so it may key a persistent cache.
    #[must_use]
    pub fn canonical(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for Scopes {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl From<Scope> for Scopes {
    fn from(scope: Scope) -> Self {
        Scopes(BTreeSet::from([scope]))
    }
}

impl From<MarkableScope> for Scopes {
    fn from(scope: MarkableScope) -> Self {
        Scopes(BTreeSet::from([Scope(scope.as_str().into())]))
    }
}

/// The two scopes of the Markable Lens API.
///
/// `Default` allows every operation and must stay private. `Search` allows
/// only searches; the seed says such a token "can be published on the web".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarkableScope {
    /// Every operation. Never embed this token in a web page.
    Default,
    /// Search only. The token may be published (see [`crate::PublishableToken`]).
    Search,
}

impl MarkableScope {
    /// The wire spelling: `default` or `search`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MarkableScope::Default => "default",
            MarkableScope::Search => "search",
        }
    }

    /// Reads the Markable scope out of a scope set. An empty set means
    /// `default`: the private scope is the safe guess, since only `search`
    /// tokens may ever be published.
    pub fn from_scopes(scopes: &Scopes) -> Result<Self, Error> {
        let mut it = scopes.iter();
        match (it.next(), it.next()) {
            (None, _) => Ok(MarkableScope::Default),
            (Some(s), None) => s.as_str().parse(),
            (Some(_), Some(_)) => Err(Error::InvalidScope {
                scope: scopes.to_string(),
                reason: "Markable takes exactly one scope: `default` or `search`".into(),
            }),
        }
    }
}

impl FromStr for MarkableScope {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "default" => Ok(MarkableScope::Default),
            "search" => Ok(MarkableScope::Search),
            other => Err(Error::InvalidScope {
                scope: other.escape_debug().to_string(),
                reason: "Markable knows only `default` and `search`".into(),
            }),
        }
    }
}

impl fmt::Display for MarkableScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_3_3_characters() {
        assert!(Scope::new("read").is_ok());
        assert!(Scope::new("https://api.example.com/x.readonly").is_ok());
        assert!(Scope::new("a!#[]~").is_ok());
        for bad in ["a b", "a\"b", "a\\b", "ä", "a\tb", ""] {
            assert!(Scope::new(bad).is_err(), "{bad:?} should be refused");
        }
        let e = Scope::new("a\"b").unwrap_err();
        assert!(e.to_string().contains("RFC 6749 §3.3"), "{e}");
    }

    #[test]
    fn canonical_form_is_sorted_and_deduplicated() {
        let s = Scopes::parse("  write read   groups read ").unwrap();
        assert_eq!(s.canonical(), "groups read write");
        assert_eq!(s.len(), 3);
        assert!(Scopes::parse("").unwrap().is_empty());
    }

    #[test]
    fn difference_surfaces_what_was_not_granted() {
        let asked = Scopes::parse("read write admin").unwrap();
        let granted = Scopes::parse("read write groups").unwrap();
        assert_eq!(asked.difference(&granted).canonical(), "admin");
        assert_eq!(granted.difference(&asked).canonical(), "groups");
    }

    #[test]
    fn markable_scope_from_set() {
        assert_eq!(
            MarkableScope::from_scopes(&Scopes::empty()).unwrap(),
            MarkableScope::Default
        );
        assert_eq!(
            MarkableScope::from_scopes(&"search".parse().unwrap()).unwrap(),
            MarkableScope::Search
        );
        assert!(MarkableScope::from_scopes(&"read".parse().unwrap()).is_err());
        assert!(MarkableScope::from_scopes(&"search default".parse().unwrap()).is_err());
    }

    proptest! {
        #[test]
        fn canonical_round_trips(tokens in proptest::collection::vec("[!#-\\[\\]-~]{1,8}", 0..6)) {
            let s = Scopes::from_tokens(&tokens).unwrap();
            let again: Scopes = s.canonical().parse().unwrap();
            prop_assert_eq!(&again, &s);
            let mut shuffled = tokens.clone();
            shuffled.reverse();
            prop_assert_eq!(Scopes::from_tokens(&shuffled).unwrap().canonical(), s.canonical());
        }
    }
}
