//! `coditect-license login`: sign in, register the organisation on a first sign-in, and say who is
//! signed in where.
//!
//! - `--email <addr>`: email and password in the terminal (`--password-stdin` for scripts,
//!   `--sign-up` creates the account);
//! - `--google` / `--github`: through the browser, back to a listener on 127.0.0.1
//!   ([`login_browser`](crate::login_browser)); `--no-browser` prints the URL and takes the
//!   address the browser ended on, pasted;
//! - nothing: a terminal chooses from a menu;
//! - a server in emulator mode without an emulator (the embedded default) gets the demo sign-in:
//!   the email is enough.

use chrono::Utc;
use coditect_license::signin::{Credentials, IdentityToolkit, SignInError, StoredSignIn, demo};
use shared::api::SignInProvider;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::Failure;
use crate::{account, login_browser, prompt};

/// Arguments of `login`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Sign in with this email address and a password.
    #[arg(long, value_name = "ADDRESS", conflicts_with_all = ["google", "github"])]
    pub(crate) email: Option<String>,
    /// Read the password from the first line of stdin instead of asking (for scripts).
    #[arg(long, requires = "email")]
    pub(crate) password_stdin: bool,
    /// Create the email and password account first.
    #[arg(long, requires = "email")]
    pub(crate) sign_up: bool,
    /// Sign in with Google, through the browser.
    #[arg(long, conflicts_with = "github")]
    pub(crate) google: bool,
    /// Sign in with GitHub, through the browser.
    #[arg(long)]
    pub(crate) github: bool,
    /// Do not open a browser: print the URL, and paste the address the browser ends on.
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// The name of the organisation a first sign-in creates (default: the email's domain).
    #[arg(long, value_name = "NAME")]
    pub(crate) organisation: Option<String>,
}

/// Runs `login`.
pub(crate) async fn run(context: &Context, args: Args) -> Result<u8, Failure> {
    let toolkit = context
        .output
        .spin(
            "Asking the service how to sign in…",
            IdentityToolkit::discover(&context.client),
        )
        .await?;
    let credentials = if toolkit.config().demo_sign_in {
        demo_sign_in(&toolkit, args.email).await?
    } else {
        match method(&toolkit, &args).await? {
            SignInProvider::Password => password_sign_in(context, &toolkit, &args).await?,
            provider => {
                login_browser::sign_in(context, &toolkit, provider, args.no_browser).await?
            }
        }
    };
    let sign_in = StoredSignIn::save(&context.files, &context.client, credentials)?;
    let account = account::look_up(context, &sign_in, true, args.organisation.as_deref()).await?;
    context.output.result(&account, &account.sentences());
    Ok(Exit::Ok.code())
}

/// The way to sign in: the flags', else a terminal's choice.
async fn method(toolkit: &IdentityToolkit, args: &Args) -> Result<SignInProvider, Failure> {
    let chosen = if args.email.is_some() {
        Some(SignInProvider::Password)
    } else if args.google {
        Some(SignInProvider::Google)
    } else if args.github {
        Some(SignInProvider::GitHub)
    } else {
        None
    };
    let offered = &toolkit.config().providers;
    if let Some(provider) = chosen {
        if !offered.contains(&provider) {
            return Err(Failure::new(
                Exit::Usage,
                format!("This service does not offer signing in with {provider}."),
            ));
        }
        return Ok(provider);
    }
    if !prompt::interactive() {
        return Err(Failure::new(
            Exit::Usage,
            "Say how to sign in: --google, --github, or --email <address> (with --password-stdin in scripts).",
        ));
    }
    eprintln!("How do you want to sign in?");
    for (n, provider) in offered.iter().enumerate() {
        eprintln!("  {}) {}", n + 1, label(*provider));
    }
    let answer = prompt::ask("Choose a number: ").await?;
    answer
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| offered.get(i).copied())
        .ok_or_else(|| {
            Failure::new(
                Exit::Usage,
                format!("{:?} is not one of the choices.", answer.trim()),
            )
        })
}

fn label(provider: SignInProvider) -> &'static str {
    match provider {
        SignInProvider::Google => "Google (in the browser)",
        SignInProvider::GitHub => "GitHub (in the browser)",
        SignInProvider::Password => "Email and password (here)",
    }
}

/// Email and password: sign in, or sign up with `--sign-up` (or when a person agrees to after
/// "no account uses that email").
async fn password_sign_in(
    context: &Context,
    toolkit: &IdentityToolkit,
    args: &Args,
) -> Result<Credentials, Failure> {
    let email = match &args.email {
        Some(email) => email.trim().to_owned(),
        None => prompt::ask("Email: ").await?.trim().to_owned(),
    };
    let password = if args.password_stdin {
        prompt::line_from_stdin().await?
    } else if prompt::interactive() {
        prompt::password("Password: ").await?
    } else {
        return Err(Failure::new(
            Exit::Usage,
            "No terminal to ask for the password: pass it on stdin with --password-stdin.",
        ));
    };
    let output = &context.output;
    let mut sign_up = args.sign_up;
    loop {
        let attempt = if sign_up {
            output
                .spin("Creating your account…", toolkit.sign_up(&email, &password))
                .await
        } else {
            output
                .spin(
                    "Signing in…",
                    toolkit.sign_in_with_password(&email, &password),
                )
                .await
        };
        match attempt {
            Ok(grant) => {
                return Ok(Credentials::from_grant(
                    SignInProvider::Password.as_str(),
                    grant,
                    toolkit.config(),
                    Utc::now(),
                ));
            }
            Err(e)
                if e.is_unknown_email() && !sign_up && offer_sign_up(context, &email).await? =>
            {
                sign_up = true;
            }
            Err(e) => return Err(refusal(e, &email)),
        }
    }
}

/// Asks whether to create an account for `email` (a terminal only; `--json` never asks).
async fn offer_sign_up(context: &Context, email: &str) -> Result<bool, Failure> {
    if context.output.json || !prompt::interactive() {
        return Ok(false);
    }
    let answer = prompt::ask(&format!(
        "No account uses {email}. Create one with this password? [y/N] "
    ))
    .await?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// A refused sign-in as a failure with the next step (exit 77).
fn refusal(error: SignInError, email: &str) -> Failure {
    let unknown = error.is_unknown_email();
    let code = error.code().map(str::to_owned);
    let mut failure = Failure::from(coditect_license::ClientError::from(error));
    failure.code = code;
    failure.next_step = Some(if unknown {
        format!("To create the account: coditect-license login --email {email} --sign-up")
    } else {
        "Try again with `coditect-license login`.".into()
    });
    failure
}

/// The demo sign-in: the email is enough (the server accepts the unsigned token minted for it).
async fn demo_sign_in(
    toolkit: &IdentityToolkit,
    email: Option<String>,
) -> Result<Credentials, Failure> {
    let email = match email {
        Some(email) => email,
        None if prompt::interactive() => {
            eprintln!(
                "This server runs the demo sign-in (emulator mode, no emulator): your email is enough."
            );
            prompt::ask("Email: ").await?
        }
        None => {
            return Err(Failure::new(
                Exit::Usage,
                "This server runs the demo sign-in: say who you are with --email <address>.",
            ));
        }
    };
    demo::sign_in(toolkit.config(), &email, Utc::now()).map_err(|e| refusal(e, &email))
}
