//! Which resources belong to a stack: those carrying every given tag, or those named explicitly.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selector {
    /// Resources carrying every one of these tags (key → value).
    Tags(BTreeMap<String, String>),
    /// Resources named explicitly.
    Names(ResourceNames),
}

/// Explicit resource names, the alternative to tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceNames {
    /// `cluster/service` pairs.
    #[serde(default)]
    pub ecs_services: Vec<String>,
    /// DB instance identifiers.
    #[serde(default)]
    pub rds_instances: Vec<String>,
}

/// A `--tag` or selector that cannot select anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("invalid tag `{0}`: expected KEY=VALUE with a non-empty KEY")]
    TagSyntax(String),
    #[error("tag key `{0}` is given twice with different values")]
    DuplicateTag(String),
    #[error("invalid ECS service `{0}`: expected CLUSTER/SERVICE")]
    ServiceSyntax(String),
    #[error("the stack selects nothing: give at least one tag or resource name")]
    Empty,
}

impl Selector {
    /// Parses `KEY=VALUE` arguments into a tag selector.
    pub fn from_tag_args<S: AsRef<str>>(args: &[S]) -> Result<Self, SelectorError> {
        let mut tags = BTreeMap::new();
        for arg in args {
            let arg = arg.as_ref();
            let (k, v) = arg
                .split_once('=')
                .ok_or_else(|| SelectorError::TagSyntax(arg.to_string()))?;
            let k = k.trim();
            if k.is_empty() {
                return Err(SelectorError::TagSyntax(arg.to_string()));
            }
            if let Some(old) = tags.insert(k.to_string(), v.to_string())
                && old != v
            {
                return Err(SelectorError::DuplicateTag(k.to_string()));
            }
        }
        let sel = Selector::Tags(tags);
        sel.validate()?;
        Ok(sel)
    }

    pub fn validate(&self) -> Result<(), SelectorError> {
        match self {
            Selector::Tags(tags) if tags.is_empty() => Err(SelectorError::Empty),
            Selector::Tags(tags) => match tags.keys().find(|k| k.trim().is_empty()) {
                Some(k) => Err(SelectorError::TagSyntax(format!("{k}="))),
                None => Ok(()),
            },
            Selector::Names(ResourceNames {
                ecs_services,
                rds_instances,
            }) => {
                if ecs_services.is_empty() && rds_instances.is_empty() {
                    return Err(SelectorError::Empty);
                }
                for s in ecs_services {
                    match s.split_once('/') {
                        Some((c, n)) if !c.is_empty() && !n.is_empty() && !n.contains('/') => {}
                        _ => return Err(SelectorError::ServiceSyntax(s.clone())),
                    }
                }
                Ok(())
            }
        }
    }

    /// True when `tags` carry every tag of a tag selector.
    pub fn matches_tags<'a, I>(&self, tags: I) -> bool
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let Selector::Tags(want) = self else {
            return false;
        };
        let have: BTreeMap<&str, &str> = tags.into_iter().collect();
        want.iter()
            .all(|(k, v)| have.get(k.as_str()) == Some(&v.as_str()))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Tags(tags) => {
                let parts: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "tags {}", parts.join(", "))
            }
            Selector::Names(ResourceNames {
                ecs_services,
                rds_instances,
            }) => write!(
                f,
                "ECS services [{}] and RDS instances [{}]",
                ecs_services.join(", "),
                rds_instances.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_args_parse_and_reject_bad_syntax() {
        let s = Selector::from_tag_args(&["Project=ot", "Env=dev"]).unwrap();
        assert!(s.matches_tags([("Project", "ot"), ("Env", "dev"), ("Owner", "x")]));
        assert!(!s.matches_tags([("Project", "ot")]));
        assert_eq!(
            Selector::from_tag_args(&["Project"]),
            Err(SelectorError::TagSyntax("Project".into()))
        );
        assert_eq!(
            Selector::from_tag_args(&["=x"]),
            Err(SelectorError::TagSyntax("=x".into()))
        );
        assert_eq!(
            Selector::from_tag_args(&["A=1", "A=2"]),
            Err(SelectorError::DuplicateTag("A".into()))
        );
        assert_eq!(
            Selector::from_tag_args::<&str>(&[]),
            Err(SelectorError::Empty)
        );
    }
}
