//! Rendering step templates with handlebars in strict mode: a missing variable is an error,
//! never an empty string. In `run:` lines every value is shell-quoted as it is inserted, so a
//! parameter value can never become shell syntax.

use handlebars::Handlebars;

use super::shell_line_is_safe;
use crate::exec::shell_quote;

/// Renders argv elements, env values and workdirs (`plain`) and `run:` lines (`shell`).
#[derive(Debug)]
pub struct Renderer {
    plain: Handlebars<'static>,
    shell: Handlebars<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    /// One renderer for the whole process: building one registers every built-in helper,
    /// which is not free when a hundred runs start at once.
    pub fn shared() -> &'static Renderer {
        static SHARED: std::sync::LazyLock<Renderer> = std::sync::LazyLock::new(Renderer::new);
        &SHARED
    }

    pub fn new() -> Renderer {
        let mut plain = Handlebars::new();
        plain.set_strict_mode(true);
        plain.register_escape_fn(handlebars::no_escape);
        let mut shell = Handlebars::new();
        shell.set_strict_mode(true);
        shell.register_escape_fn(shell_quote);
        Renderer { plain, shell }
    }

    /// Renders a value that is passed as one argv element or env value.
    pub fn plain(&self, template: &str, data: &serde_json::Value) -> Result<String, String> {
        if !template.contains("{{") {
            return Ok(template.to_owned());
        }
        self.plain
            .render_template(template, data)
            .map_err(|e| describe(template, &e))
    }

    /// Renders a `run:` line; every inserted value is a single shell word.
    pub fn shell(&self, template: &str, data: &serde_json::Value) -> Result<String, String> {
        if !shell_line_is_safe(template) {
            return Err(format!(
                "`{template}` uses a raw expression; values in `run:` lines are always quoted"
            ));
        }
        if !template.contains("{{") {
            return Ok(template.to_owned());
        }
        self.shell
            .render_template(template, data)
            .map_err(|e| describe(template, &e))
    }
}

fn describe(template: &str, e: &handlebars::RenderError) -> String {
    let reason = e.reason().to_string();
    format!("cannot render `{template}`: {}", reason.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_and_quoted() {
        let r = Renderer::new();
        let data = serde_json::json!({"params": {"x": "a'b; rm -rf x"}, "run_id": 7});
        assert_eq!(
            r.plain("{{params.x}}", &data).as_deref(),
            Ok("a'b; rm -rf x")
        );
        assert_eq!(
            r.shell("echo {{params.x}} {{run_id}}", &data).as_deref(),
            Ok(r"echo 'a'\''b; rm -rf x' '7'")
        );
        assert!(r.plain("{{params.missing}}", &data).is_err());
        assert!(r.shell("echo {{{params.x}}}", &data).is_err());
        assert_eq!(r.plain("<&>", &data).as_deref(), Ok("<&>"));
    }
}
