//! Documents to stamp: small, valid PDF files of a chosen size that differ
//! per applicant, and the twin's stamp appended to a document. A template
//! is built once per size; each document is a copy with the applicant's
//! number written into it, so a 300 KB upload costs a memory copy, not a
//! PDF writer. The padding is pseudo-random so documents do not compress
//! away, as real scans do not.

use std::fmt::Write as _;

/// Every PDF starts with this.
pub const MAGIC: &[u8] = b"%PDF-";

/// Width of the applicant number written into each document.
const ID_DIGITS: usize = 20;
const ID_MARK: &str = "surge-document-";

/// A PDF of a fixed size with a slot for a per-document number.
#[derive(Clone, Debug)]
pub struct PdfTemplate {
    bytes: Vec<u8>,
    /// Where the number's digits start.
    id_at: usize,
}

impl PdfTemplate {
    /// A template of about `size` bytes (never less than the smallest valid
    /// document, about 700 bytes).
    pub fn new(size: usize) -> PdfTemplate {
        Self::try_new(size).expect("memory for a document")
    }

    /// [`PdfTemplate::new`], refusing rather than aborting when the memory
    /// for `size` bytes cannot be had (the size comes from a scenario).
    pub fn try_new(size: usize) -> Result<PdfTemplate, std::collections::TryReserveError> {
        let mut reserved = Vec::new();
        reserved.try_reserve_exact(size.saturating_add(1024))?;
        let text = format!(
            "BT /F1 16 Tf 72 770 Td ({ID_MARK}{}) Tj ET",
            "0".repeat(ID_DIGITS)
        );
        // The comment with high bytes marks the file as binary, as PDF
        // writers do.
        let mut bytes = reserved;
        bytes.extend_from_slice(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
        let mut offsets = Vec::new();
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> >> >>"
                .to_string(),
            format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        ];
        for (i, body) in objects.iter().enumerate() {
            offsets.push(bytes.len());
            bytes.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        // Padding: an unreferenced stream of noise up to the wanted size.
        let pad = size.saturating_sub(bytes.len() + 300);
        offsets.push(bytes.len());
        bytes.extend_from_slice(format!("6 0 obj\n<< /Length {pad} >>\nstream\n").as_bytes());
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        bytes.extend((0..pad).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        }));
        bytes.extend_from_slice(b"\nendstream\nendobj\n");

        let xref_at = bytes.len();
        let mut xref = String::from("xref\n0 7\n0000000000 65535 f \n");
        for o in &offsets {
            let _ = writeln!(xref, "{o:010} 00000 n ");
        }
        let _ = write!(
            xref,
            "trailer\n<< /Size 7 /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
        );
        bytes.extend_from_slice(xref.as_bytes());

        let id_at = find(&bytes, ID_MARK.as_bytes()).expect("the mark was written") + ID_MARK.len();
        Ok(PdfTemplate { bytes, id_at })
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The document numbered `id`: the template with `id` written in.
    pub fn render(&self, id: u64) -> Vec<u8> {
        let mut doc = self.bytes.clone();
        let digits = format!("{id:0width$}", width = ID_DIGITS);
        doc[self.id_at..self.id_at + ID_DIGITS].copy_from_slice(digits.as_bytes());
        doc
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether `bytes` look like a PDF (they start with `%PDF-`).
pub fn is_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// The stamp the twin appends to a document: the serial number, the
/// document's SHA-256 and the signature, as a PDF comment block after the
/// original, so the original bytes stay intact and verifiable.
pub fn stamp(original: &[u8], serial: &str, sha256_hex: &str, signature: &str) -> Vec<u8> {
    let trailer = format!(
        "\n%e-Meterai stamp (surge twin)\n%serial: {serial}\n%document-sha256: {sha256_hex}\n%signature: {signature}\n%%EOF\n"
    );
    let mut out = Vec::with_capacity(original.len() + trailer.len());
    out.extend_from_slice(original);
    out.extend_from_slice(trailer.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_have_the_asked_size_and_differ() {
        let t = PdfTemplate::new(100_000);
        assert!((t.len() as i64 - 100_000).abs() < 400, "{}", t.len());
        let (a, b) = (t.render(1), t.render(2));
        assert!(is_pdf(&a) && a.len() == b.len() && a != b);
        assert!(a.ends_with(b"%%EOF\n"));
    }

    #[test]
    fn xref_offsets_point_at_objects() {
        let doc = PdfTemplate::new(2_000).render(7);
        let xref = find(&doc, b"xref\n").unwrap();
        let table = String::from_utf8(doc[xref..].to_vec()).unwrap();
        let entries: Vec<usize> = table
            .lines()
            .skip(3)
            .take(6)
            .map(|l| l[..10].parse().unwrap())
            .collect();
        for (i, at) in entries.iter().enumerate() {
            let expected = format!("{} 0 obj", i + 1);
            assert!(
                doc[*at..].starts_with(expected.as_bytes()),
                "object {} at {at}",
                i + 1
            );
        }
        let startxref: usize = table
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(startxref, xref);
    }

    #[test]
    fn tiny_sizes_still_give_a_valid_document() {
        let t = PdfTemplate::new(10);
        assert!(is_pdf(&t.render(0)) && t.len() > 500);
    }

    #[test]
    fn stamp_keeps_the_original_and_names_serial_and_digest() {
        let doc = PdfTemplate::new(1_000).render(3);
        let stamped = stamp(&doc, "EM2024000000000042", "ab12", "sig");
        assert!(stamped.starts_with(&doc));
        let tail = String::from_utf8_lossy(&stamped[doc.len()..]);
        assert!(
            tail.contains("serial: EM2024000000000042") && tail.contains("document-sha256: ab12")
        );
    }
}
