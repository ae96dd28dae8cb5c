//! CPU time spent during a measurement, read from `/proc`: by this process (the load
//! generator or the S3 client), by the service, by the S3 server, and by the whole machine.
//! It tells a slower side that waits from one that works more; Linux only (elsewhere zero).

/// Clock ticks per second of `/proc` times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

fn process_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The name (field 2) may hold spaces: count fields after its closing parenthesis, where
    // field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum()
}

fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().next() else {
        return 0;
    };
    // user nice system idle iowait irq softirq steal: all but idle and iowait
    cpu.split_whitespace()
        .skip(1)
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum()
}

/// The first process whose command name is `comm` (e.g. the bench script's `s3s-fs`).
pub fn pid_named(comm: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let name = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (name.trim_end() == comm).then_some(pid)
    })
}

/// CPU ticks so far: this process, the service, the S3 server, the machine.
#[derive(Clone, Copy)]
pub struct Cpu([u64; 4]);

impl Cpu {
    pub fn now(service: u32, s3: Option<u32>) -> Cpu {
        Cpu([
            process_ticks(std::process::id()),
            process_ticks(service),
            s3.map(process_ticks).unwrap_or(0),
            machine_busy_ticks(),
        ])
    }

    /// Seconds spent since `earlier`, in the same order.
    pub fn since(&self, earlier: &Cpu) -> [f64; 4] {
        std::array::from_fn(|i| self.0[i].saturating_sub(earlier.0[i]) as f64 / TICKS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_this_process_working() {
        let before = Cpu::now(std::process::id(), None);
        let t = std::time::Instant::now();
        let mut x = 0u64;
        // until 0.1 s of CPU shows (or 10 s pass on a machine too busy to give it)
        while Cpu::now(std::process::id(), None).since(&before)[0] < 0.1
            && t.elapsed().as_secs() < 10
        {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
        let spent = Cpu::now(std::process::id(), None).since(&before);
        if cfg!(target_os = "linux") {
            assert!(spent[0] >= 0.1, "{spent:?}");
            assert!(
                spent[1] >= 0.1,
                "the same process as the service: {spent:?}"
            );
            // (the machine's counters in /proc/stat are sampled per CPU tick, not per task,
            // so they can trail the process's own by a tick or two)
            assert!(spent[3] >= 0.07, "the machine: {spent:?}");
        }
    }
}
