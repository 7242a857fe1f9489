//! Query text built from the filters a request gives: conditions joined by `AND`, and their
//! arguments bound in order, one SQL text for both backends.

/// Query arguments of the three types the read model's columns hold, collected while a query's
/// conditions are written, then bound in order ([`bind_args!`]).
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// A `WHERE` clause being built: conditions joined by `AND`, each with its `$n` arguments.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    parts: Vec<String>,
    pub(crate) args: Vec<Arg>,
}

impl Conditions {
    /// The next argument's placeholder (`$3`).
    pub(crate) fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    /// `column IN ($n, …)` over `values`.
    pub(crate) fn any_of(&mut self, column: &str, values: impl IntoIterator<Item = String>) {
        let placeholders: Vec<String> =
            values.into_iter().map(|v| self.arg(Arg::Text(v))).collect();
        if placeholders.is_empty() {
            // Nothing can match an empty set.
            self.parts.push("1 = 0".to_owned());
        } else {
            self.parts
                .push(format!("{column} IN ({})", placeholders.join(", ")));
        }
    }

    /// Adds a condition (its placeholders taken with [`Conditions::arg`]).
    pub(crate) fn and(&mut self, condition: String) {
        self.parts.push(condition);
    }

    /// The conditions joined with `AND`.
    pub(crate) fn sql(&self) -> String {
        if self.parts.is_empty() {
            "1 = 1".to_owned()
        } else {
            self.parts.join(" AND ")
        }
    }
}

/// Binds [`Arg`]s to a query in order (expanded once per backend inside `on_reader!`).
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                $crate::orders::sql::Arg::Text(v) => query.bind(v.as_str()),
                $crate::orders::sql::Arg::Int(v) => query.bind(*v),
                $crate::orders::sql::Arg::Bool(v) => query.bind(*v),
            };
        }
        query
    }};
}
pub(crate) use bind_args;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_set_matches_nothing_and_placeholders_count_on() {
        let mut c = Conditions::default();
        let first = c.arg(Arg::Text("t".into()));
        c.and(format!("tenant_id = {first}"));
        c.any_of("status", ["paid".to_owned(), "completed".to_owned()]);
        c.any_of("customer_id", Vec::new());
        assert_eq!(c.sql(), "tenant_id = $1 AND status IN ($2, $3) AND 1 = 0");
        assert_eq!(c.args.len(), 3);
    }
}
