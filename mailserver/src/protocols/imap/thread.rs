//! THREAD (RFC 5256 §2.2, §3): the messages SEARCH would find, as threads.
//!
//! - ORDEREDSUBJECT: by base subject, then sent date; each thread is its first message with
//!   the others as its replies; threads in the order of their first message's date.
//! - REFERENCES: the RFC's algorithm (after Jamie Zawinski's): messages linked by
//!   References (else In-Reply-To) through containers, loops refused, empty containers
//!   pruned, the roots sorted by date and gathered by base subject, siblings sorted by date.
//!
//! Sent dates are `Date:` in UTC, or the internal date without one; ties go by message number.

use std::collections::HashMap;
use std::io;
use std::time::UNIX_EPOCH;

use mail_parser::{HeaderValue, Message as Parsed};
use sansmail_imap_proto::command::{SearchKey, ThreadAlgorithm};
use sansmail_imap_proto::response::{Data, Thread};

use super::commands::{Done, Selected, matching, ok};
use super::fetch;
use super::sort::{HEADER_LIMIT, base_subject_and_reply, sent_date};

/// References of one message used, the nearest ones.
const MAX_REFERENCES: usize = 64;

/// How deep a thread may go: a deeper reply starts a thread of its own (the tree is walked
/// recursively, and a hostile mailbox could chain replies without end).
const MAX_DEPTH: usize = 256;

/// What threading needs of one message.
struct Item {
    /// Message number or UID, as the answer names it.
    id: u32,
    seq: u32,
    date: i64,
    subject: String,
    reply: bool,
    message_id: Option<String>,
    /// References, else the first In-Reply-To; oldest first.
    references: Vec<String>,
}

pub(super) fn thread(
    sel: &mut Selected,
    uid: bool,
    algorithm: ThreadAlgorithm,
    keys: &[SearchKey<'_>],
    out: &mut Vec<u8>,
) -> io::Result<Done> {
    let mut items = Vec::new();
    for (seq, m) in matching(sel, keys)? {
        let internal = m.internal.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let raw = fetch::read_header(&sel.folder, m.uid, &m.path, HEADER_LIMIT).unwrap_or_default();
        let parsed = mail_parser::MessageParser::new()
            .with_date_headers()
            .with_message_ids()
            .header_text(mail_parser::HeaderName::Subject)
            .parse(&raw);
        let (subject, reply) = base_subject_and_reply(parsed.as_ref().and_then(Parsed::subject).unwrap_or(""));
        let ids = |v: &HeaderValue<'_>| match v {
            HeaderValue::Text(t) => vec![t.to_string()],
            HeaderValue::TextList(l) => l.iter().map(ToString::to_string).collect(),
            _ => Vec::new(),
        };
        let mut references = parsed.as_ref().map(|p| ids(p.references())).unwrap_or_default();
        if references.is_empty() {
            references = parsed.as_ref().map(|p| ids(p.in_reply_to())).unwrap_or_default();
            references.truncate(1);
        }
        // The nearest ancestors are what threads a message; a References field of thousands
        // of IDs adds nothing but work.
        let excess = references.len().saturating_sub(MAX_REFERENCES);
        references.drain(..excess);
        items.push(Item {
            id: if uid { m.uid } else { seq },
            seq,
            date: parsed.as_ref().and_then(sent_date).unwrap_or(internal),
            subject: subject.to_ascii_uppercase(),
            reply,
            message_id: parsed.as_ref().and_then(Parsed::message_id).map(str::to_owned),
            references,
        });
    }
    let threads = match algorithm {
        ThreadAlgorithm::OrderedSubject => ordered_subject(&items),
        _ => references(&items),
    };
    Data::Thread(threads).encode(out);
    Ok(ok(if uid { "UID THREAD completed" } else { "THREAD completed" }))
}

fn ordered_subject(items: &[Item]) -> Vec<Thread> {
    let mut order: Vec<&Item> = items.iter().collect();
    order.sort_by(|a, b| (&a.subject, a.date, a.seq).cmp(&(&b.subject, b.date, b.seq)));
    let mut threads: Vec<(i64, u32, Thread)> = Vec::new();
    for group in order.chunk_by(|a, b| a.subject == b.subject) {
        let children = group[1..].iter().map(|m| Thread { id: Some(m.id), children: Vec::new() }).collect();
        threads.push((group[0].date, group[0].seq, Thread { id: Some(group[0].id), children }));
    }
    threads.sort_by_key(|t| (t.0, t.1));
    threads.into_iter().map(|t| t.2).collect()
}

/// A container of the REFERENCES algorithm: a message, or a parent only referred to.
#[derive(Default)]
struct Container {
    item: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Forest<'i> {
    items: &'i [Item],
    nodes: Vec<Container>,
}

impl Forest<'_> {
    fn add(&mut self, item: Option<usize>) -> usize {
        self.nodes.push(Container { item, ..Container::default() });
        self.nodes.len() - 1
    }

    /// Whether `a` is `b` or one of its ancestors. Past MAX_DEPTH ancestors the answer is
    /// yes: the link asked about is not made, so a thread stops growing there and no look
    /// costs more than MAX_DEPTH steps.
    fn is_ancestor(&self, a: usize, b: usize) -> bool {
        let mut at = Some(b);
        let mut steps = 0;
        while let Some(n) = at {
            if n == a || steps > MAX_DEPTH {
                return true;
            }
            at = self.nodes[n].parent;
            steps += 1;
        }
        false
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.nodes[child].parent.take() {
            self.nodes[p].children.retain(|&c| c != child);
        }
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.unlink(child);
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
    }

    /// (date, message number) of a container: its message's, or its first child's.
    fn key(&self, n: usize) -> (i64, u32) {
        match self.nodes[n].item {
            Some(i) => (self.items[i].date, self.items[i].seq),
            None => self.nodes[n].children.first().map_or((i64::MAX, u32::MAX), |&c| self.key(c)),
        }
    }

    /// The message a container stands for when threads are gathered by subject.
    fn subject_item(&self, n: usize) -> Option<&Item> {
        match self.nodes[n].item {
            Some(i) => Some(&self.items[i]),
            None => self.nodes[n].children.first().and_then(|&c| self.subject_item(c)),
        }
    }

    /// §2.2 step 4: containers without a message are dropped when empty, and replaced by
    /// their children, except at the root when they hold more than one.
    fn prune(&mut self, list: Vec<usize>, at_root: bool) -> Vec<usize> {
        let mut out = Vec::new();
        for n in list {
            let children = std::mem::take(&mut self.nodes[n].children);
            let children = self.prune(children, false);
            for &c in &children {
                self.nodes[c].parent = Some(n);
            }
            self.nodes[n].children = children;
            if self.nodes[n].item.is_none() && (self.nodes[n].children.len() <= 1 || !at_root) {
                let promoted = std::mem::take(&mut self.nodes[n].children);
                for &c in &promoted {
                    self.nodes[c].parent = None;
                }
                out.extend(promoted);
                continue;
            }
            out.push(n);
        }
        out
    }

    /// §2.2 step 7 (and 5): siblings by date, at every level.
    fn sort(&mut self, list: &mut [usize]) {
        for &n in list.iter() {
            let mut children = std::mem::take(&mut self.nodes[n].children);
            self.sort(&mut children);
            self.nodes[n].children = children;
        }
        list.sort_by_key(|&n| self.key(n));
    }

    fn tree(&self, n: usize) -> Thread {
        Thread {
            id: self.nodes[n].item.map(|i| self.items[i].id),
            children: self.nodes[n].children.iter().map(|&c| self.tree(c)).collect(),
        }
    }
}

fn references(items: &[Item]) -> Vec<Thread> {
    let mut f = Forest { items, nodes: Vec::new() };
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    // Step 1: every message in a container, linked to what it references.
    for (i, item) in items.iter().enumerate() {
        let this = match item.message_id.as_deref() {
            // A duplicate Message-ID is treated as none.
            Some(id) if by_id.get(id).is_none_or(|&n| f.nodes[n].item.is_none()) => {
                let n = *by_id.entry(id).or_insert_with(|| f.add(None));
                f.nodes[n].item = Some(i);
                n
            }
            _ => f.add(Some(i)),
        };
        let mut refs = Vec::new();
        for r in &item.references {
            let n = match by_id.get(r.as_str()) {
                Some(&n) => n,
                None => {
                    let n = f.add(None);
                    by_id.insert(r, n);
                    n
                }
            };
            refs.push(n);
        }
        // 1B: each reference the parent of the next, unless linked already or a loop.
        for pair in refs.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a != b && f.nodes[b].parent.is_none() && !f.is_ancestor(b, a) && !f.is_ancestor(a, b) {
                f.link(a, b);
            }
        }
        // 1C: the last reference is this message's parent, unless that makes a loop.
        match refs.last() {
            Some(&p) if p != this && !f.is_ancestor(this, p) => f.link(p, this),
            _ => f.unlink(this),
        }
    }
    // Steps 2–5: the roots, pruned, by date (no thread deeper than MAX_DEPTH).
    let mut roots: Vec<usize> = (0..f.nodes.len()).filter(|&n| f.nodes[n].parent.is_none()).collect();
    let mut level: Vec<(usize, usize)> = roots.iter().map(|&r| (r, 1)).collect();
    while let Some((n, depth)) = level.pop() {
        for c in f.nodes[n].children.clone() {
            if depth >= MAX_DEPTH {
                f.unlink(c);
                roots.push(c);
                level.push((c, 1));
            } else {
                level.push((c, depth + 1));
            }
        }
    }
    let mut roots = f.prune(roots, true);
    f.sort(&mut roots);
    // Step 6: roots with the same base subject gathered.
    let mut table: HashMap<String, usize> = HashMap::new();
    for &r in &roots {
        let Some(item) = f.subject_item(r).filter(|i| !i.subject.is_empty()) else { continue };
        let dummy = f.nodes[r].item.is_none();
        match table.get(&item.subject) {
            None => {
                table.insert(item.subject.clone(), r);
            }
            Some(&old) => {
                let old_dummy = f.nodes[old].item.is_none();
                let old_reply = f.subject_item(old).is_some_and(|i| i.reply);
                // A container without a message is preferred, then a message that is no reply.
                if !old_dummy && (dummy || old_reply && !item.reply) {
                    table.insert(item.subject.clone(), r);
                }
            }
        }
    }
    // Merged in place: a root made a child leaves the root set; a new container takes the
    // place of the root it was made for.
    let mut replaced: HashMap<usize, usize> = HashMap::new();
    for &r in &roots {
        let Some(item) = f.subject_item(r).filter(|i| !i.subject.is_empty()) else { continue };
        let (subject, reply) = (item.subject.clone(), item.reply);
        let Some(&t) = table.get(&subject) else { continue };
        if t == r || f.nodes[r].parent.is_some() {
            continue;
        }
        let (t_dummy, r_dummy) = (f.nodes[t].item.is_none(), f.nodes[r].item.is_none());
        let t_reply = f.subject_item(t).is_some_and(|i| i.reply);
        if t_dummy && r_dummy {
            for c in std::mem::take(&mut f.nodes[r].children) {
                f.nodes[c].parent = None;
                f.link(t, c);
            }
        } else if t_dummy || (reply && !t_reply) {
            f.link(t, r);
        } else {
            // Neither is the other's reply: both under a new container, in the old one's place.
            let d = f.add(None);
            f.link(d, t);
            f.link(d, r);
            table.insert(subject, d);
            replaced.insert(t, d);
        }
    }
    let mut gathered: Vec<usize> = Vec::new();
    for &r in &roots {
        let mut g = r;
        while let Some(&d) = replaced.get(&g) {
            g = d;
        }
        let emptied = f.nodes[g].item.is_none() && f.nodes[g].children.is_empty();
        if f.nodes[g].parent.is_none() && !emptied && !gathered.contains(&g) {
            gathered.push(g);
        }
    }
    // Step 7: siblings by date under every root (the roots keep their order).
    for &g in &gathered {
        let mut children = std::mem::take(&mut f.nodes[g].children);
        f.sort(&mut children);
        f.nodes[g].children = children;
    }
    gathered.iter().map(|&g| f.tree(g)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(t: &Thread) -> usize {
        1 + t.children.iter().map(depth).max().unwrap_or(0)
    }

    fn count(t: &Thread) -> usize {
        usize::from(t.id.is_some()) + t.children.iter().map(count).sum::<usize>()
    }

    /// Twenty thousand replies, each to the one before, and one message referencing
    /// thousands of IDs: every message is in a thread, none deeper than MAX_DEPTH.
    #[test]
    fn hostile_chains_are_cut_not_recursed() {
        let mut items: Vec<Item> = (0..20_000u32)
            .map(|i| Item {
                id: i + 1,
                seq: i + 1,
                date: i64::from(i),
                subject: format!("S{i}"),
                reply: false,
                message_id: Some(format!("m{i}")),
                references: if i == 0 { vec![] } else { vec![format!("m{}", i - 1)] },
            })
            .collect();
        items.push(Item {
            id: 20_001,
            seq: 20_001,
            date: 0,
            subject: "long".into(),
            reply: false,
            message_id: Some("long".into()),
            references: (0..10_000).map(|i| format!("r{i}")).collect(),
        });
        let threads = references(&items);
        assert!(threads.iter().all(|t| depth(t) <= MAX_DEPTH));
        assert_eq!(threads.iter().map(count).sum::<usize>(), 20_001);
        let mut out = Vec::new();
        Data::Thread(threads).encode(&mut out);
        assert!(out.starts_with(b"* THREAD ("));
    }
}
