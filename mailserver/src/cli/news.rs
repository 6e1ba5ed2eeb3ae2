//! `sansmail news …`: the newsgroups and the pulls for the administrator. Groups added here
//! go to `news/groups.toml` in the data directory, which a running server reads again
//! within seconds; the config file's `[[newsgroup]]` entries are listed but not changed.

use std::fs;
use std::path::Path;

use clap::Subcommand;

use crate::config::Config;
use crate::news::groups::GroupsFile;
use crate::news::{NewsgroupConfig, Who};

/// `sansmail news`.
#[derive(Subcommand)]
pub(crate) enum NewsAction {
    /// Newsgroups: add, delete, list.
    Group {
        #[command(subcommand)]
        action: GroupAction,
    },
    /// Pull now from the upstream peers (`[[newspeer]]` with `pull`), or from one: the
    /// running server does it within a second.
    Pull { peer: Option<String> },
}

/// `sansmail news group`.
#[derive(Subcommand)]
pub(crate) enum GroupAction {
    /// Add a newsgroup (served at once by a running server).
    Add {
        name: String,
        /// LIST NEWSGROUPS' line.
        #[arg(long, default_value = "")]
        description: String,
        /// y (posting), n (no posting), m (moderated: give --moderator).
        #[arg(long, default_value = "y")]
        status: String,
        /// The moderator's mail address (status m).
        #[arg(long)]
        moderator: Option<String>,
        /// Who may read: anyone, authenticated, networks, nobody.
        #[arg(long, default_value = "anyone")]
        read: String,
        /// Who may post: anyone, authenticated, networks, nobody.
        #[arg(long, default_value = "authenticated")]
        post: String,
        /// Articles older than this many days are removed.
        #[arg(long)]
        retention_days: Option<u32>,
        /// A local address whose mail is posted to the group.
        #[arg(long)]
        posting_address: Option<String>,
        /// An address each new article is mailed to (repeatable).
        #[arg(long)]
        subscriber: Vec<String>,
    },
    /// Delete a newsgroup added here (its articles stay on disk).
    Del { name: String },
    /// The newsgroups: name, status, articles, high-water mark, where defined.
    List,
}

fn who(text: &str) -> Result<Who, String> {
    match text {
        "anyone" => Ok(Who::Anyone),
        "authenticated" => Ok(Who::Authenticated),
        "networks" => Ok(Who::Networks),
        "nobody" => Ok(Who::Nobody),
        other => Err(format!("{other:?}: anyone, authenticated, networks or nobody")),
    }
}

/// Runs `sansmail news …`.
pub(crate) fn run(config: &Config, action: NewsAction) -> Result<(), Box<dyn std::error::Error>> {
    let news_dir = config.data_dir.join("news");
    fs::create_dir_all(&news_dir)?;
    let file = GroupsFile::new(&news_dir);
    match action {
        NewsAction::Group {
            action:
                GroupAction::Add {
                    name,
                    description,
                    status,
                    moderator,
                    read,
                    post,
                    retention_days,
                    posting_address,
                    subscriber,
                },
        } => {
            if config.newsgroup.iter().any(|g| g.name == name) {
                return Err(format!("{name} is defined in the config file").into());
            }
            let group = NewsgroupConfig {
                description,
                status,
                moderator,
                read: who(&read)?,
                post: who(&post)?,
                retention_days,
                posting_address,
                subscribers: subscriber,
                ..NewsgroupConfig::named(&name)
            };
            file.add(group)?;
            println!("added {name}");
        }
        NewsAction::Group { action: GroupAction::Del { name } } => {
            if config.newsgroup.iter().any(|g| g.name == name) {
                return Err(format!("{name} is defined in the config file: remove it there").into());
            }
            if !file.remove(&name)? {
                return Err(format!("no newsgroup {name} here").into());
            }
            println!("deleted {name} (its articles stay in {})", news_dir.join(&name).display());
        }
        NewsAction::Group { action: GroupAction::List } => {
            let managed = file.load()?;
            for (g, whence) in
                config.newsgroup.iter().map(|g| (g, "config")).chain(managed.iter().map(|g| (g, "managed")))
            {
                let (count, high) = counts(&news_dir.join(&g.name));
                println!("{}  {}  {count} article(s)  high {high}  ({whence})", g.name, g.status);
            }
        }
        NewsAction::Pull { peer } => {
            if let Some(p) = &peer
                && !config.newspeer.iter().any(|x| &x.name == p && x.pull.is_some())
            {
                return Err(format!("no [[newspeer]] {p} with pull").into());
            }
            fs::create_dir_all(news_dir.join("pull"))?;
            fs::write(news_dir.join(crate::news::pull::PULL_MARK), peer.unwrap_or_default())?;
            println!("asked the server to pull now");
        }
    }
    Ok(())
}

/// A group's articles and high-water mark, from its overview and `.high` files.
fn counts(dir: &Path) -> (usize, u64) {
    let overview = fs::read_to_string(dir.join(".overview")).unwrap_or_default();
    let numbers: Vec<u64> = overview.lines().filter_map(|l| l.split('\t').next()?.parse().ok()).collect();
    let marks = fs::read_to_string(dir.join(".high")).unwrap_or_default();
    let marked = marks.split_whitespace().next().and_then(|t| t.parse().ok()).unwrap_or(0);
    (numbers.len(), numbers.iter().copied().max().unwrap_or(0).max(marked))
}
