//! Change detection: what an action changed on screen. Take a
//! [`ChangeToken`] before acting and ask [`Vision::changes_since`] after: the
//! compositor's damage gives the changed regions, and the text analysis
//! before and after gives the text that appeared and disappeared there.
//! The planner's verify step calls this; the API publishes the same report
//! after every action as the `vision` topic's `screen_changed` event.

use std::sync::Arc;

use digios_ipc::{Rect, Request, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::ocr::TextLine;
use super::{Analysis, AnalyzeOptions, Vision, VisionError, damage_since, outputs};

/// How long to wait for clients to finish drawing after an action.
const SETTLE_QUIET_MS: u32 = 150;
const SETTLE_TIMEOUT_MS: u32 = 3000;
/// How long to wait for a first change before reporting none.
const NO_CHANGE_GRACE: std::time::Duration = std::time::Duration::from_millis(1000);

/// The screen's state before an action.
#[derive(Debug, Clone)]
pub struct ChangeToken {
    pub damage_seq: u64,
    /// The analysis current at the token, if there was one.
    pub before: Option<Arc<Analysis>>,
}

/// What changed between a token and now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeReport {
    /// Changed areas in global logical coordinates, clipped to the screen.
    #[schema(value_type = Vec<super::RectSchema>)]
    pub regions: Vec<Rect>,
    /// Text lines in the changed areas that were not there before.
    pub added_text: Vec<TextLine>,
    /// Text lines in the changed areas that are gone.
    pub removed_text: Vec<TextLine>,
    /// The analysis taken after the change; its marks are current.
    pub analysis_id: Option<u64>,
    /// Clients were still drawing when the wait for a settled screen ended.
    pub unsettled: bool,
}

impl ChangeReport {
    pub fn changed(&self) -> bool {
        !self.regions.is_empty()
    }
}

impl Vision {
    /// A token for the screen as it is now, with its text read (from the
    /// cache where nothing changed), so text changes can be told later.
    pub async fn change_token(&self) -> Result<ChangeToken, VisionError> {
        let before = self.analyze(AnalyzeOptions::default()).await?;
        Ok(ChangeToken {
            damage_seq: before.damage_seq,
            before: Some(before),
        })
    }

    /// A token costing one request: the damage position and the latest
    /// analysis as the text before (possibly older than the token).
    pub async fn quick_change_token(&self) -> Result<ChangeToken, VisionError> {
        let report = damage_since(self.desktop(), u64::MAX).await?;
        Ok(ChangeToken {
            damage_seq: report.seq,
            before: self.latest(),
        })
    }

    /// What changed since `token`: waits for the screen to settle, then
    /// reports damaged regions and, when `read_text` holds, the text that
    /// appeared and disappeared in them (analysing the screen again, which
    /// reads only what changed).
    pub async fn changes_since(
        &self,
        token: &ChangeToken,
        read_text: bool,
    ) -> Result<ChangeReport, VisionError> {
        let desktop = self.desktop();
        let settle = || async {
            let idle = desktop
                .request(Request::WaitIdle {
                    quiet_ms: SETTLE_QUIET_MS,
                    timeout_ms: SETTLE_TIMEOUT_MS,
                })
                .await?;
            Ok::<bool, VisionError>(matches!(idle, Response::Idle { idle: false }))
        };
        // A busy client may answer input later than the quiet period: give
        // it a grace period to start drawing before calling it no change.
        let started = std::time::Instant::now();
        let mut unsettled = settle().await?;
        let mut damage = damage_since(desktop, token.damage_seq).await?;
        while damage.rects.is_empty() && !damage.full && started.elapsed() < NO_CHANGE_GRACE {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            unsettled = settle().await?;
            damage = damage_since(desktop, token.damage_seq).await?;
        }
        let screen = outputs(desktop).await?;
        let raw = if damage.full {
            screen.clone()
        } else {
            damage.rects.clone()
        };
        let regions: Vec<Rect> = raw
            .iter()
            .flat_map(|rect| screen.iter().filter_map(|output| output.intersection(rect)))
            .collect();
        let mut report = ChangeReport {
            regions,
            added_text: Vec::new(),
            removed_text: Vec::new(),
            analysis_id: None,
            unsettled,
        };
        if !read_text || !report.changed() {
            return Ok(report);
        }
        let after = self.analyze(AnalyzeOptions::default()).await?;
        let before: &[TextLine] = token.before.as_ref().map_or(&[], |b| &b.text);
        let (added, removed) = compare_text(before, &after.text, &report.regions);
        report.added_text = added;
        report.removed_text = removed;
        report.analysis_id = Some(after.id);
        Ok(report)
    }
}

/// Lines in `regions` present after but not before (added) and before but
/// not after (removed). A line counts as the same when its text is equal and
/// its box overlaps.
pub fn compare_text(
    before: &[TextLine],
    after: &[TextLine],
    regions: &[Rect],
) -> (Vec<TextLine>, Vec<TextLine>) {
    let in_regions = |line: &TextLine| regions.iter().any(|r| r.overlaps(&line.bbox));
    let same = |a: &TextLine, b: &TextLine| a.text == b.text && a.bbox.overlaps(&b.bbox);
    let added = after
        .iter()
        .filter(|line| in_regions(line) && !before.iter().any(|old| same(old, line)))
        .cloned()
        .collect();
    let removed = before
        .iter()
        .filter(|line| in_regions(line) && !after.iter().any(|new| same(new, line)))
        .cloned()
        .collect();
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, bbox: Rect) -> TextLine {
        TextLine {
            text: text.into(),
            bbox,
            confidence: 90.0,
            window_id: None,
            words: Vec::new(),
        }
    }

    #[test]
    fn text_changes_are_told_only_inside_changed_regions() {
        let before = [
            line("$", Rect::new(0, 0, 20, 10)),
            line("unchanged", Rect::new(0, 100, 50, 10)),
            line("outside", Rect::new(0, 300, 50, 10)),
        ];
        let after = [
            line("$ echo hi", Rect::new(0, 0, 60, 10)),
            line("hi", Rect::new(0, 12, 20, 10)),
            line("unchanged", Rect::new(0, 100, 50, 10)),
        ];
        let regions = [Rect::new(0, 0, 200, 120)];
        let (added, removed) = compare_text(&before, &after, &regions);
        let added: Vec<&str> = added.iter().map(|l| l.text.as_str()).collect();
        let removed: Vec<&str> = removed.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(added, ["$ echo hi", "hi"]);
        assert_eq!(removed, ["$"]);
    }
}
