//! What holds the heap of a Switchboard process, from heaptrack's record of it: the
//! backtraces `heaptrack_print --merge-backtraces 0 --print-leaks 1` lists (the bytes
//! each one allocated and never freed before the trace ended), each put in one of a
//! few holders by the source files of its frames.
//!
//! A backtrace is classified by its frames from the allocation outwards: the first
//! frame in one of a holder's source files decides. Innermost first, because the code
//! that asked for the memory names what it is for: the task cell tokio boxes a spawned
//! future in is allocated in tokio's task module whichever of Switchboard's functions
//! spawned it, and an Outbox allocated while a member attends is the outbox's, not the
//! workspace's. Frames of the standard library (`/rustc/…`: Box, Arc, raw vectors,
//! hashbrown) are no holder's: they say how, not what for.

/// One holder of heap bytes, as BENCHMARKS.md names it, and the source files whose
/// frames are its. A frame's path is absolute for a function inlined from a dependency
/// (`/…/registry/src/…/tokio-1.54.1/src/…`, matched as `/CRATE-*/…`, any version) and
/// relative to its crate for one compiled where it is defined: `src/…` is Switchboard's
/// own, or a dependency's function left out of line (`CRATE:src/…`). So tokio's holders
/// name both forms of their files, and Switchboard's are directories no dependency has.
pub struct Holder {
    pub key: &'static str,
    pub label: &'static str,
    files: &'static [&'static str],
}

/// The holders, in the order of the table; a frame is tried against them in this order,
/// so the outbox's file is the outbox's before it is the rest of src/core's. A backtrace
/// none of them claims is `REST`'s.
pub const HOLDERS: [Holder; 7] = [
    Holder {
        key: "task",
        label: "the connection's task: the cell tokio boxes its future's state in",
        files: &["/tokio-*/src/runtime/task/", "tokio:src/runtime/task/"],
    },
    Holder {
        key: "outbox",
        label: "the outbox: its shared state, its queue's buffer, its cancellation token",
        files: &["src/core/conn/outbox.rs"],
    },
    Holder {
        key: "io",
        label: "tokio's I/O registration of the socket",
        files: &["/tokio-*/src/runtime/io/", "tokio:src/runtime/io/"],
    },
    Holder {
        key: "maps",
        label: "the workspaces (their member maps and records) and the router's map (src/core)",
        files: &["src/core/"],
    },
    Holder {
        key: "store",
        label: "the store's workspace records (memory storage, as the bench runs it)",
        files: &["src/store/"],
    },
    Holder {
        key: "transport",
        label: "the WebSocket transport: the boxed stream, its split halves, the ping timer (src/transport)",
        files: &["src/transport/"],
    },
    Holder {
        key: "actix",
        label: "what actix-http and actix-server keep after the handshake",
        files: &["/actix-http-*/", "/actix-server-*/", "/actix-codec-*/", "/actix-rt-*/"],
    },
];

/// The holder of what no other claims: the process's own (its runtime, the log writer's
/// queue), and anything per member no holder names.
pub const REST: (&str, &str) = ("rest", "the rest");

impl Holder {
    /// The file of this holder's that `path` is in, if any.
    fn file_of(&self, path: &str) -> Option<&'static str> {
        self.files.iter().copied().find(|file| in_file(path, file))
    }
}

/// Whether `path` (a frame's, `PATH:LINE`) is in `file`: `src/…` at its start, and so
/// the relative `CRATE:src/…`; `/CRATE-*/REST` as `/CRATE-` then a version (a digit
/// first) then `/REST`.
fn in_file(path: &str, file: &str) -> bool {
    if let Some((_, relative)) = file.split_once(':') {
        return path.starts_with(relative);
    }
    let Some((krate, rest)) = file.split_once('*') else {
        return path.starts_with(file);
    };
    path.match_indices(krate).any(|(at, _)| {
        let after = &path[at + krate.len()..];
        after.starts_with(|c: char| c.is_ascii_digit())
            && after
                .find('/')
                .is_some_and(|slash| after[slash..].starts_with(rest))
    })
}

/// One backtrace of the listing: bytes still allocated, allocations, the source paths of
/// its frames (innermost first; frames without debug info have none).
#[derive(Debug, PartialEq)]
pub struct Backtrace {
    pub bytes: f64,
    pub calls: u64,
    pub paths: Vec<String>,
}

impl Backtrace {
    /// The key of the holder it belongs to, and the frame that decided it, as a reader
    /// finds it (see `short`; a dependency's relative path after its crate's name): for
    /// `REST`, its first frame outside the standard library, where the bytes were asked
    /// for.
    pub fn holder(&self) -> (&'static str, String) {
        for path in &self.paths {
            for holder in &HOLDERS {
                if let Some(file) = holder.file_of(path) {
                    let site = match file.split_once(':') {
                        Some((krate, _)) => format!("{krate}/{path}"),
                        None => short(path),
                    };
                    return (holder.key, site);
                }
            }
        }
        let site = self
            .paths
            .iter()
            .find(|p| !std_library(p))
            .or(self.paths.first())
            .map_or("(no debug info)".to_string(), |p| short(p));
        (REST.0, site)
    }
}

/// Whether a frame is the standard library's: absolute under the compiler's sources
/// (`/rustc/<commit>/library/…`, and the crates std is built with, `/rust/deps/…`), or
/// relative when std's function was left out of line (`library/…`).
fn std_library(path: &str) -> bool {
    path.starts_with("/rustc/") || path.starts_with("/rust/deps/") || path.starts_with("library/")
}

/// The backtraces of a `heaptrack_print --merge-backtraces 0 --print-leaks 1` listing:
/// a header `524.29K leaked over 1 calls from`, then per frame a line with the function
/// (two spaces in) and, when known, `at PATH:LINE` and `in BINARY` (four spaces in).
pub fn parse(listing: &str) -> anyhow::Result<Vec<Backtrace>> {
    let mut backtraces = Vec::new();
    for line in listing.lines() {
        if let Some(head) = line.strip_suffix(" calls from") {
            let (bytes, calls) = head
                .split_once(" leaked over ")
                .ok_or_else(|| anyhow::anyhow!("not a backtrace's header: {line:?}"))?;
            backtraces.push(Backtrace {
                bytes: bytes_of(bytes)?,
                calls: calls.parse()?,
                paths: Vec::new(),
            });
        } else if let Some(at) = line.strip_prefix("    at ") {
            if let Some(backtrace) = backtraces.last_mut() {
                backtrace.paths.push(at.to_string());
            }
        }
    }
    Ok(backtraces)
}

/// The total heaptrack_print states at the end (`total memory leaked: 833.86K`), to
/// check the backtraces against.
pub fn total(listing: &str) -> Option<f64> {
    listing
        .lines()
        .find_map(|l| l.strip_prefix("total memory leaked: "))
        .and_then(|b| bytes_of(b.trim()).ok())
}

/// heaptrack's sizes: `8B`, `72.70K`, `13.60M`, `1.20G`, in powers of 1000 (and rounded
/// to two decimals of their unit).
fn bytes_of(text: &str) -> anyhow::Result<f64> {
    let scale = match text.chars().last() {
        Some('B') => 1.0,
        Some('K') => 1e3,
        Some('M') => 1e6,
        Some('G') => 1e9,
        Some('T') => 1e12,
        _ => anyhow::bail!("not a heaptrack size: {text:?}"),
    };
    Ok(text[..text.len() - 1].parse::<f64>()? * scale)
}

/// One holder's bytes in a listing, and its sites' (the frames that decided, see
/// `Backtrace::holder`), most first.
pub struct Held {
    pub key: &'static str,
    pub bytes: f64,
    pub sites: Vec<(String, f64)>,
}

/// Bytes by holder: every holder, then `REST`.
pub fn by_holder(backtraces: &[Backtrace]) -> Vec<Held> {
    let keys = HOLDERS.iter().map(|h| h.key).chain([REST.0]);
    keys.map(|key| {
        let mut bytes = 0.0;
        let mut sites: Vec<(String, f64)> = Vec::new();
        for (b, (_, site)) in backtraces
            .iter()
            .map(|b| (b, b.holder()))
            .filter(|(_, h)| h.0 == key)
        {
            bytes += b.bytes;
            match sites.iter_mut().find(|(s, _)| *s == site) {
                Some((_, total)) => *total += b.bytes,
                None => sites.push((site, b.bytes)),
            }
        }
        sites.sort_by(|a, b| b.1.total_cmp(&a.1));
        Held { key, bytes, sites }
    })
    .collect()
}

/// A frame's path as a reader finds it: a dependency's from its crate's directory
/// (`tokio-1.54.1/src/…`), the standard library's from `library/`.
fn short(path: &str) -> String {
    for root in ["/registry/src/", "/rustc/"] {
        if let Some(at) = path.find(root) {
            // Past the registry's index directory, or the compiler's commit.
            let rest = &path[at + root.len()..];
            return rest.split_once('/').map_or(rest, |(_, p)| p).to_string();
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// heaptrack_print's listing of a Switchboard with 4000 idle members, cut to a few of
    /// its backtraces (one of each holder, two of the rest) and its closing totals.
    const LISTING: &str = include_str!("../fixtures/heaptrack-leaks.txt");

    #[test]
    fn reads_each_backtrace() {
        let backtraces = parse(LISTING).unwrap();
        assert_eq!(backtraces.len(), 9);
        assert_eq!((backtraces[0].bytes, backtraces[0].calls), (10.80e6, 3013));
        assert_eq!((backtraces[8].bytes, backtraces[8].calls), (296.0, 987));
        // Innermost first; a frame without debug info (libstdc++'s, first here) has no path.
        assert_eq!(
            backtraces[0].paths[0],
            "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/sys/alloc/unix.rs:83"
        );
        assert_eq!(
            backtraces[7].paths,
            [
                "./elf/dl-init.c:74",
                "./elf/dl-init.c:26",
                "./elf/dl-init.c:121",
                "./elf/rtld.c:0"
            ]
        );
        assert_eq!(total(LISTING), Some(22.02e6));
    }

    #[test]
    fn the_innermost_frame_in_a_holders_files_decides() {
        let holders: Vec<(&str, String)> =
            parse(LISTING).unwrap().iter().map(|b| b.holder()).collect();
        let expected = [
            // Spawned from src/transport/ws.rs, inside actix-http's dispatcher: the task's.
            ("task", "tokio-1.54.1/src/runtime/task/core.rs:261"),
            // tokio's own function, out of line: its path is relative to tokio's directory.
            ("io", "tokio/src/runtime/io/registration_set.rs:63"),
            // indexmap's table, grown for a workspace's members.
            ("maps", "src/core/workspaces/join.rs:166"),
            ("outbox", "src/core/conn/outbox.rs:213"),
            ("store", "src/store/memory.rs:66"),
            // The log writer's queue: the process's, whatever its members.
            ("rest", "crossbeam-channel-0.5.17/src/flavors/array.rs:135"),
            // tokio's Interval (src/time/interval.rs, relative) for the transport's pings.
            ("transport", "src/transport/ws.rs:244"),
            ("rest", "./elf/dl-init.c:74"),
            ("actix", "actix-http-3.20.0/src/extensions.rs:61"),
        ];
        let expected: Vec<(&str, String)> =
            expected.iter().map(|(k, s)| (*k, s.to_string())).collect();
        assert_eq!(holders, expected);
    }

    #[test]
    fn sums_bytes_by_holder_and_site() {
        let backtraces = parse(LISTING).unwrap();
        let holders = by_holder(&backtraces);
        let keys: Vec<&str> = holders.iter().map(|h| h.key).collect();
        assert_eq!(
            keys,
            [
                "task",
                "outbox",
                "io",
                "maps",
                "store",
                "transport",
                "actix",
                "rest"
            ]
        );
        let rest = &holders[7];
        assert_eq!(rest.bytes, 524.29e3 + 72.70e3);
        assert_eq!(
            rest.sites[0],
            (
                "crossbeam-channel-0.5.17/src/flavors/array.rs:135".to_string(),
                524.29e3
            )
        );
        let all: f64 = holders.iter().map(|h| h.bytes).sum();
        let listed: f64 = backtraces.iter().map(|b| b.bytes).sum();
        assert_eq!(all, listed);
    }

    #[test]
    fn a_crate_matches_at_any_version_and_no_other_crate() {
        let task = "/tokio-*/src/runtime/task/";
        assert!(in_file(
            "/r/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1/src/runtime/task/core.rs:261",
            task
        ));
        assert!(in_file(
            "/r/index.crates.io-1949cf8c6b5b557f/tokio-2.0.0/src/runtime/task/core.rs:1",
            task
        ));
        assert!(!in_file(
            "/r/index.crates.io-1949cf8c6b5b557f/tokio-util-0.7.20/src/runtime/task/x.rs:1",
            task
        ));
        assert!(!in_file(
            "/r/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1/src/runtime/io/driver.rs:1",
            task
        ));
        assert!(in_file(
            "src/runtime/io/driver.rs:290",
            "tokio:src/runtime/io/"
        ));
        assert!(in_file("src/core/conn/router.rs:82", "src/core/"));
        assert!(!in_file("/x/src/core/conn/router.rs:82", "src/core/"));
    }

    #[test]
    fn sizes_are_powers_of_1000() {
        assert_eq!(bytes_of("8B").unwrap(), 8.0);
        assert_eq!(bytes_of("72.70K").unwrap(), 72_700.0);
        assert_eq!(bytes_of("13.60M").unwrap(), 13_600_000.0);
        assert!(bytes_of("12X").is_err());
        assert!(bytes_of("").is_err());
    }
}
