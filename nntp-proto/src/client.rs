//! The client side of an NNTP session, Sans-IO: for readers (GROUP, ARTICLE, OVER, POST) and
//! feeders (IHAVE, streaming CHECK/TAKETHIS).
//!
//! The embedder sends commands with [`ClientSession::send`] (pipelined or one at a time: the
//! session matches each response to its command in order) and polls [`ClientEvent`]s: the
//! greeting, one [`ClientEvent::Response`] per command and, for the responses that carry a
//! block, its content as [`ClientEvent::Data`] pieces (dot-stuffing undone) then
//! [`ClientEvent::End`]. An article is sent with [`ClientSession::article`] after `340` to
//! POST or `335` to IHAVE, or with TAKETHIS ([`ClientSession::takethis`]) at once; the
//! session dot-stuffs it. No article is ever whole in memory here.
//!
//! A hostile server (an endless line, a status line that is not one, a response nobody
//! asked for) ends the session with [`ClientEvent::Error`], within bounded memory.

use std::collections::VecDeque;
use std::fmt;

use crate::command::{Command, EncodeError, Keyword, is_message_id};
use crate::multiline::{BareLineEndings, Decoder, Encoder};
use crate::response::{MAX_RESPONSE_LINE, Response, code, has_block};

/// Why the session ended on the server's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// A status line longer than [`MAX_RESPONSE_LINE`].
    LineTooLong,
    /// A line that is not a status line.
    Malformed,
    /// A response when no command was waiting for one.
    Unexpected,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::LineTooLong => "server sent an over-long line",
            Self::Malformed => "server sent a malformed response",
            Self::Unexpected => "server sent a response nobody asked for",
        })
    }
}

impl std::error::Error for ClientError {}

/// What the client session reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server's greeting: `200` (posting allowed), `201` (no posting), or a refusal
    /// (`400`, `502`).
    Greeting {
        /// The code.
        code: u16,
        /// The text.
        text: String,
    },
    /// The status line answering a command.
    Response {
        /// The command answered.
        keyword: Keyword,
        /// The code.
        code: u16,
        /// The text (arguments included: `211 3 1 3 misc.test`).
        text: String,
    },
    /// A piece of the block that follows the last response, dot-stuffing undone.
    Data(Vec<u8>),
    /// The block is complete.
    End,
    /// The server broke the protocol; the session is closed.
    Error(ClientError),
}

/// Why the session cannot send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The command cannot be written (see [`EncodeError`]).
    Encode(EncodeError),
    /// No article was asked for (no `340`/`335` yet), or one is being sent already.
    NoArticleExpected,
    /// The session is closed.
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(e) => e.fmt(f),
            Self::NoArticleExpected => f.write_str("no article was asked for"),
            Self::Closed => f.write_str("the session is closed"),
        }
    }
}

impl std::error::Error for SendError {}

/// One NNTP client session.
#[derive(Debug)]
pub struct ClientSession {
    /// The commands sent and not yet answered, in order (`None`: the greeting).
    waiting: VecDeque<Option<Keyword>>,
    /// A block being read after a response.
    block: Option<Decoder>,
    /// The status line being read.
    line: Vec<u8>,
    events: VecDeque<ClientEvent>,
    out: Vec<u8>,
    /// An article may be sent (`340`/`335` came), or is being sent.
    article: Option<Encoder>,
    article_expected: bool,
    /// POST or IHAVE, whose article the verdict answers.
    last_article_keyword: Option<Keyword>,
    closed: bool,
}

impl Default for ClientSession {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientSession {
    /// A session on a new connection: the greeting comes first.
    pub fn new() -> Self {
        Self {
            waiting: VecDeque::from([None]),
            block: None,
            line: Vec::new(),
            events: VecDeque::new(),
            out: Vec::new(),
            article: None,
            article_expected: false,
            last_article_keyword: None,
            closed: false,
        }
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Commands sent and not yet answered (the greeting counts as one).
    pub fn in_flight(&self) -> usize {
        self.waiting.len()
    }

    /// Queues a command (pipelining is allowed: responses are matched in order). TAKETHIS
    /// goes with its article: use [`ClientSession::takethis`].
    pub fn send(&mut self, command: &Command<'_>) -> Result<(), SendError> {
        if self.closed {
            return Err(SendError::Closed);
        }
        command.encode(&mut self.out).map_err(SendError::Encode)?;
        self.waiting.push_back(Some(command.keyword()));
        Ok(())
    }

    /// Queues `TAKETHIS message-id` and its whole `article` (dot-stuffed here), as RFC 4644
    /// §2.5 sends them: without waiting.
    pub fn takethis(&mut self, message_id: &str, article: &[u8]) -> Result<(), SendError> {
        if self.closed {
            return Err(SendError::Closed);
        }
        if !is_message_id(message_id) {
            return Err(SendError::Encode(EncodeError(Keyword::Takethis)));
        }
        Command::Takethis { message_id }.encode(&mut self.out).map_err(SendError::Encode)?;
        let mut e = Encoder::new();
        e.encode(article, &mut self.out);
        e.finish(&mut self.out);
        self.waiting.push_back(Some(Keyword::Takethis));
        Ok(())
    }

    /// Sends a piece of the article the server asked for (`340` to POST, `335` to IHAVE).
    pub fn article(&mut self, data: &[u8]) -> Result<(), SendError> {
        if self.closed {
            return Err(SendError::Closed);
        }
        if self.article.is_none() {
            if !self.article_expected {
                return Err(SendError::NoArticleExpected);
            }
            self.article_expected = false;
            self.article = Some(Encoder::new());
        }
        if let Some(e) = &mut self.article {
            e.encode(data, &mut self.out);
        }
        Ok(())
    }

    /// Ends the article (`.` CRLF); its verdict comes as the next response.
    pub fn article_end(&mut self) -> Result<(), SendError> {
        if self.article.is_none() && self.article_expected {
            self.article_expected = false;
            self.article = Some(Encoder::new());
        }
        let Some(mut e) = self.article.take() else { return Err(SendError::NoArticleExpected) };
        e.finish(&mut self.out);
        // The verdict answers the POST or IHAVE again (240/441, 235/436/437).
        let keyword = self.last_article_keyword.take().unwrap_or(Keyword::Post);
        self.waiting.push_back(Some(keyword));
        Ok(())
    }

    /// Appends what is to be written to `buf`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.out);
        } else {
            buf.append(&mut self.out);
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Feeds octets from the server; all of them are taken.
    pub fn handle_input(&mut self, mut data: &[u8]) -> usize {
        let total = data.len();
        while !data.is_empty() && !self.closed {
            if let Some(decoder) = &mut self.block {
                let mut content = Vec::new();
                let d = decoder.decode(data, &mut content);
                if !content.is_empty() {
                    self.events.push_back(ClientEvent::Data(content));
                }
                data = &data[d.consumed..];
                if d.done {
                    self.block = None;
                    self.events.push_back(ClientEvent::End);
                }
                continue;
            }
            let Some(lf) = memchr::memchr(b'\n', data) else {
                if self.line.len() + data.len() > MAX_RESPONSE_LINE {
                    return self.fail(ClientError::LineTooLong, total);
                }
                self.line.extend_from_slice(data);
                break;
            };
            if self.line.len() + lf + 1 > MAX_RESPONSE_LINE {
                return self.fail(ClientError::LineTooLong, total);
            }
            self.line.extend_from_slice(&data[..lf]);
            data = &data[lf + 1..];
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let Ok(response) = Response::parse(&line) else { return self.fail(ClientError::Malformed, total) };
            let Some(waiting) = self.waiting.pop_front() else { return self.fail(ClientError::Unexpected, total) };
            let text = response.text.to_owned();
            match waiting {
                None => self.events.push_back(ClientEvent::Greeting { code: response.code, text }),
                Some(keyword) => {
                    let c = response.code;
                    if matches!((keyword, c), (Keyword::Post, code::SEND_POST) | (Keyword::Ihave, code::SEND_IHAVE)) {
                        self.article_expected = true;
                        self.last_article_keyword = Some(keyword);
                    }
                    if has_block(keyword, c) {
                        self.block = Some(Decoder::new(BareLineEndings::Normalize, None));
                    }
                    self.events.push_back(ClientEvent::Response { keyword, code: c, text });
                }
            }
        }
        total
    }

    fn fail(&mut self, e: ClientError, total: usize) -> usize {
        self.closed = true;
        self.line = Vec::new();
        self.events.push_back(ClientEvent::Error(e));
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{ArticleRef, Range, Target};

    fn run(c: &mut ClientSession, server: &[u8]) -> Vec<ClientEvent> {
        // Every split of the server's octets gives the same events (checked by the caller
        // comparing runs); here: fed whole.
        assert_eq!(c.handle_input(server), server.len());
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    /// Joins data pieces, so runs over different splits compare equal.
    fn joined(events: Vec<ClientEvent>) -> Vec<ClientEvent> {
        let mut out: Vec<ClientEvent> = Vec::new();
        for e in events {
            match (out.last_mut(), e) {
                (Some(ClientEvent::Data(a)), ClientEvent::Data(b)) => a.extend_from_slice(&b),
                (_, e) => out.push(e),
            }
        }
        out
    }

    const SERVER: &[u8] = b"200 news.example.com ready\r\n211 2 1 2 misc.test\r\n\
220 1 <a@b>\r\nSubject: x\r\n\r\n..dot\r\nbody\r\n.\r\n\
224 Overview follows\r\n1\tx\ty\tz\t<a@b>\t\t10\t1\t\r\n.\r\n423 No such article\r\n";

    /// Pipelined reader commands matched to their responses, blocks un-stuffed, over every
    /// split of the server's octets.
    #[test]
    fn pipelined_reader_commands_over_every_split() {
        let send = |c: &mut ClientSession| {
            c.send(&Command::Group { name: "misc.test" }).unwrap();
            c.send(&Command::Article(Some(ArticleRef::Number(1)))).unwrap();
            c.send(&Command::Over { target: Some(Target::Range(Range { low: 1, high: None })), x: false }).unwrap();
            c.send(&Command::Stat(Some(ArticleRef::Number(9)))).unwrap();
        };
        let mut c = ClientSession::new();
        send(&mut c);
        let mut wire = Vec::new();
        c.poll_transmit(&mut wire);
        assert_eq!(wire, b"GROUP misc.test\r\nARTICLE 1\r\nOVER 1-\r\nSTAT 9\r\n");
        let whole = joined(run(&mut c, SERVER));
        assert_eq!(
            whole,
            [
                ClientEvent::Greeting { code: 200, text: "news.example.com ready".into() },
                ClientEvent::Response { keyword: Keyword::Group, code: 211, text: "2 1 2 misc.test".into() },
                ClientEvent::Response { keyword: Keyword::Article, code: 220, text: "1 <a@b>".into() },
                ClientEvent::Data(b"Subject: x\r\n\r\n.dot\r\nbody\r\n".to_vec()),
                ClientEvent::End,
                ClientEvent::Response { keyword: Keyword::Over, code: 224, text: "Overview follows".into() },
                ClientEvent::Data(b"1\tx\ty\tz\t<a@b>\t\t10\t1\t\r\n".to_vec()),
                ClientEvent::End,
                ClientEvent::Response { keyword: Keyword::Stat, code: 423, text: "No such article".into() },
            ]
        );
        assert_eq!(c.in_flight(), 0);
        for split in 1..SERVER.len() {
            let mut c = ClientSession::new();
            send(&mut c);
            let mut events = run(&mut c, &SERVER[..split]);
            events.extend(run(&mut c, &SERVER[split..]));
            assert_eq!(joined(events), whole, "split at {split}");
        }
    }

    #[test]
    fn post_ihave_and_takethis() {
        let mut c = ClientSession::new();
        run(&mut c, b"200 ready\r\n");
        assert_eq!(c.article(b"x"), Err(SendError::NoArticleExpected));
        c.send(&Command::Post).unwrap();
        let events = run(&mut c, b"340 send article\r\n");
        assert!(matches!(events[..], [ClientEvent::Response { code: 340, .. }]));
        c.article(b"Subject: y\r\n\r\n.starts with a dot").unwrap();
        c.article_end().unwrap();
        c.takethis("<t@x>", b"Path: a\r\n\r\nb\r\n").unwrap();
        let mut wire = Vec::new();
        c.poll_transmit(&mut wire);
        assert_eq!(
            wire,
            b"POST\r\nSubject: y\r\n\r\n..starts with a dot\r\n.\r\nTAKETHIS <t@x>\r\nPath: a\r\n\r\nb\r\n.\r\n"
                .to_vec()
        );
        let events = run(&mut c, b"240 Article received\r\n239 <t@x>\r\n");
        assert_eq!(
            events,
            [
                ClientEvent::Response { keyword: Keyword::Post, code: 240, text: "Article received".into() },
                ClientEvent::Response { keyword: Keyword::Takethis, code: 239, text: "<t@x>".into() },
            ]
        );
        assert!(c.takethis("no-brackets", b"x").is_err());
    }

    /// A hostile server: an endless line, a line that is not a status, an answer nobody
    /// asked for; each ends the session in bounded memory.
    #[test]
    fn hostile_servers() {
        let mut c = ClientSession::new();
        let endless = vec![b'2'; 100_000];
        run(&mut c, &endless);
        assert!(c.is_closed() && c.line.capacity() <= MAX_RESPONSE_LINE);
        for bad in [&b"hello\r\n"[..], b"200 ok\r\n211 unasked\r\n"] {
            let mut c = ClientSession::new();
            let events = run(&mut c, bad);
            assert!(matches!(events.last(), Some(ClientEvent::Error(_))), "{events:?}");
            assert!(c.is_closed());
            assert_eq!(c.send(&Command::Quit), Err(SendError::Closed));
        }
    }

    proptest::proptest! {
        /// Arbitrary server octets never panic the session nor grow its line past the limit.
        #[test]
        fn arbitrary_server_input(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let mut c = ClientSession::new();
            c.send(&Command::List(crate::command::ListKeyword::Active(None))).unwrap();
            c.send(&Command::Article(None)).unwrap();
            for piece in data.chunks(97) {
                c.handle_input(piece);
                proptest::prop_assert!(c.line.len() <= MAX_RESPONSE_LINE);
            }
        }
    }
}
