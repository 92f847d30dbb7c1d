//! Environment variables named in berrah.toml (`credentials = "env:VAR"`,
//! `options.client_id_env`...): how their names appear in errors. Used by
//! both `sources` and `oauth`, so that neither imports the other.

/// How a variable name appears in errors: as is when it looks like one
/// (`OIM_X_TOKEN`), otherwise not at all, since an unusual "name" may be a
/// secret written where its variable's name belongs.
pub fn shown_var_name(name: &str) -> String {
    let conventional = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if conventional {
        format!("`{name}`")
    } else {
        "(name not shown: it does not look like a variable name; is it a secret?)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_variable_names_are_not_echoed() {
        assert_eq!(shown_var_name("OIM_X_TOKEN"), "`OIM_X_TOKEN`");
        assert!(!shown_var_name("EAAGm0PX4ZCpsBA").contains("EAAG"));
        assert!(!shown_var_name("ghp_abc123").contains("abc"));
    }
}
