//! The benchmark's command line (after `cargo bench --bench claims --`).

use std::path::{Path, PathBuf};

use clap::Parser;

/// The command line as given; [`Options`] fills in what `--quick` implies.
#[derive(Debug, Parser)]
#[command(
    name = "claims",
    about = "The rootmail performance benchmark (make bench)"
)]
struct Args {
    /// A small matrix, as a smoke run (writes target/performance-quick.md).
    #[arg(long)]
    quick: bool,
    /// Which sections to run: claims, terraform (which includes plan-refresh,
    /// pipelines and destroy), latency, startup.
    #[arg(long, value_delimiter = ',')]
    sections: Vec<String>,
    /// Where to write the report; `-` prints it only.
    #[arg(long)]
    out: Option<String>,
    /// Pool sizes of the claim matrix.
    #[arg(long, value_delimiter = ',')]
    sizes: Vec<usize>,
    /// Percentages of claimed rows in the claim matrix.
    #[arg(long, value_delimiter = ',')]
    fills: Vec<u32>,
    /// Concurrent claimers in the claim matrix.
    #[arg(long, value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Claims per cell of the claim matrix.
    #[arg(long)]
    claims: Option<usize>,
    /// `cargo bench` passes `--bench` to every bench binary; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// What to measure and where to write the report.
pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) sections: Vec<String>,
    /// The report file; `None` prints only.
    pub(crate) out: Option<PathBuf>,
    pub(crate) sizes: Vec<usize>,
    pub(crate) fills: Vec<u32>,
    pub(crate) concurrency: Vec<usize>,
    pub(crate) claims_per_cell: usize,
}

/// `given` unless empty, else the default for a quick or a full run.
fn or_default<T: Clone>(given: Vec<T>, quick: bool, quick_default: &[T], full: &[T]) -> Vec<T> {
    if !given.is_empty() {
        given
    } else if quick {
        quick_default.to_vec()
    } else {
        full.to_vec()
    }
}

impl Options {
    /// Parses the command line (clap prints usage and exits on bad input).
    pub(crate) fn parse() -> Options {
        let args = Args::parse();
        let quick = args.quick;
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = match args.out.as_deref() {
            Some("-") => None,
            Some(p) => Some(PathBuf::from(p)),
            None if quick => Some(manifest.join("target/performance-quick.md")),
            None => Some(manifest.join("docs/performance.md")),
        };
        let all_sections = ["claims", "terraform", "latency", "startup"].map(String::from);
        Options {
            quick,
            sections: or_default(args.sections, quick, &all_sections, &all_sections),
            out,
            sizes: or_default(
                args.sizes,
                quick,
                &[1_000, 10_000],
                &[1_000, 10_000, 100_000],
            ),
            fills: or_default(args.fills, quick, &[0, 90], &[0, 50, 90]),
            concurrency: or_default(args.concurrency, quick, &[1, 32], &[1, 8, 32, 128]),
            claims_per_cell: args.claims.unwrap_or(if quick { 100 } else { 300 }),
        }
    }

    /// Where charts go: beside the report, which links them by file name.
    pub(crate) fn charts_dir(&self) -> Option<&Path> {
        self.out.as_deref().and_then(Path::parent)
    }

    pub(crate) fn wants(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }
}
