//! Reading an enrolment file as people have it: UTF-8 with or without a byte-order mark,
//! Windows-1252 (what French Excel saves as « CSV (séparateur : point-virgule) »), UTF-16
//! with its mark; `;`, `,` or tab between fields; headers in French, in English or as
//! Moodle exports its users. Checking what the rows say is `rows`' job.

use std::borrow::Cow;

use crate::codes::fold;
use crate::error::AppError;

/// The field errors about the file as a whole name (`errors[].field` of the API's problem).
pub const FIELD: &str = "csv";

/// A row as read, before any check.
#[derive(Debug, Default, Clone)]
pub struct CsvRow {
    pub line: u64,
    pub email: String,
    pub last_name: String,
    pub first_name: String,
    pub student_number: String,
    pub profession: String,
    pub rpps: String,
    pub adeli: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    Email,
    LastName,
    FirstName,
    StudentNumber,
    Profession,
    Rpps,
    Adeli,
}

/// Header names as universities, schools and Moodle export them, accents, case and
/// punctuation aside. Other columns (Moodle's `username`, `profile_field_*`…) are ignored:
/// the address is the identity.
fn column_of(header: &str) -> Option<Column> {
    let folded = fold(header).replace(' ', "");
    Some(match folded.as_str() {
        "email"
        | "mail"
        | "courriel"
        | "mel"
        | "adressemail"
        | "adresseemail"
        | "adressecourriel"
        | "adresseelectronique" => Column::Email,
        "nom" | "lastname" | "nomdefamille" | "nomdusage" | "nomdenaissance" => Column::LastName,
        "prenom" | "prenoms" | "firstname" => Column::FirstName,
        "numeroetudiant" | "numetudiant" | "noetudiant" | "netudiant" | "nodetudiant"
        | "ndetudiant" | "studentnumber" | "numerodetudiant" | "idnumber" => Column::StudentNumber,
        "profession" | "metier" => Column::Profession,
        "rpps" | "numerorpps" | "nrpps" | "norpps" | "identifiantrpps" => Column::Rpps,
        "adeli" | "numeroadeli" | "nadeli" | "noadeli" => Column::Adeli,
        _ => return None,
    })
}

/// The text of a file. A byte-order mark says the encoding; without one, valid UTF-8 is
/// UTF-8 and anything else is Windows-1252, which every byte sequence is (so a Latin-1 or
/// cp1252 export never fails to read, and a UTF-8 one is never taken for it: accented
/// cp1252 text is almost never valid UTF-8). A spreadsheet or other binary file is refused,
/// saying how to save it as CSV.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, AppError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"\xd0\xcf\x11\xe0") {
        return Err(AppError::invalid(
            FIELD,
            "ce fichier est un classeur Excel ou OpenDocument, pas un CSV : dans le tableur, \
             « Enregistrer sous » « CSV (séparateur : point-virgule) »",
        ));
    }
    let text = match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom)) => {
            let (text, malformed) = encoding.decode_without_bom_handling(&bytes[bom..]);
            if malformed {
                return Err(AppError::invalid(
                    FIELD,
                    format!(
                        "le fichier annonce l'encodage {} mais contient des octets invalides",
                        encoding.name()
                    ),
                ));
            }
            text
        }
        None => match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => {
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
            }
        },
    };
    if text.contains('\0') {
        return Err(AppError::invalid(
            FIELD,
            "ce fichier n'est pas un fichier texte CSV",
        ));
    }
    Ok(text)
}

/// Reads a file's bytes: [`decode`], then [`read_text`].
pub fn read_csv(bytes: &[u8]) -> Result<Vec<CsvRow>, AppError> {
    read_text(&decode(bytes)?)
}

/// The separator of the header line: the most frequent of `;`, `,` and tab outside
/// quotes (a `;` file may quote « Dupont, Jean »); `;` on a tie, as French Excel writes.
fn delimiter(text: &str) -> u8 {
    let mut counts = [(b';', 0), (b',', 0), (b'\t', 0)];
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' | '\r' if !quoted => break,
            ';' | ',' | '\t' if !quoted => {
                for (separator, count) in &mut counts {
                    if c as u32 == u32::from(*separator) {
                        *count += 1;
                    }
                }
            }
            _ => {}
        }
    }
    counts
        .iter()
        .fold(
            (b';', 0),
            |best, &(s, n)| if n > best.1 { (s, n) } else { best },
        )
        .0
}

/// Counts lines as records go by (the reader's own count skips blank lines, and
/// recounting from the start for each record would be quadratic).
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl LineCounter<'_> {
    /// The line where the record at `byte` starts (past any blank lines before it).
    fn line_at(&mut self, byte: usize) -> u64 {
        let mut start = byte.min(self.bytes.len());
        while matches!(self.bytes.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        if start >= self.offset {
            self.line += self.bytes[self.offset..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.offset = start;
        }
        self.line
    }
}

/// Reads decoded text: the header line names the columns (a first line `sep=;`, which
/// Excel understands, names the separator instead of guessing it), blank lines are
/// skipped, each row keeps the line it starts on in the file.
pub fn read_text(text: &str) -> Result<Vec<CsvRow>, AppError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (text, first_line, delimiter) = match declared_separator(text) {
        Some((separator, rest)) => (rest, 2, separator),
        None => (text, 1, delimiter(text)),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| AppError::invalid(FIELD, format!("en-tête illisible ({e})")))?
        .clone();
    let columns: Vec<Option<Column>> = headers.iter().map(column_of).collect();
    for (needed, name) in [
        (Column::Email, "email"),
        (Column::LastName, "nom"),
        (Column::FirstName, "prénom"),
    ] {
        if !columns.contains(&Some(needed)) {
            let read: Vec<String> = headers
                .iter()
                .take(12)
                .map(|h| format!("« {h} »"))
                .collect();
            return Err(AppError::invalid(
                FIELD,
                format!(
                    "colonne « {name} » absente de la première ligne (colonnes lues : {})",
                    read.join(", ")
                ),
            ));
        }
    }
    let mut rows = Vec::new();
    let mut lines = LineCounter {
        bytes: text.as_bytes(),
        offset: 0,
        line: first_line,
    };
    for record in reader.records() {
        let record =
            record.map_err(|e| AppError::invalid(FIELD, format!("ligne illisible ({e})")))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record
            .position()
            .map_or(0, |p| lines.line_at(p.byte() as usize));
        let mut row = CsvRow {
            line,
            ..CsvRow::default()
        };
        for (value, column) in record.iter().zip(&columns) {
            let slot = match column {
                Some(Column::Email) => &mut row.email,
                Some(Column::LastName) => &mut row.last_name,
                Some(Column::FirstName) => &mut row.first_name,
                Some(Column::StudentNumber) => &mut row.student_number,
                Some(Column::Profession) => &mut row.profession,
                Some(Column::Rpps) => &mut row.rpps,
                Some(Column::Adeli) => &mut row.adeli,
                None => continue,
            };
            *slot = value.to_owned();
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(AppError::invalid(FIELD, "aucune ligne après l'en-tête"));
    }
    Ok(rows)
}

/// `sep=;` (or `sep=,`, `sep=<tab>`) alone on the first line, and the text after it.
fn declared_separator(text: &str) -> Option<(u8, &str)> {
    let (first, rest) = text.split_once('\n')?;
    let separator = match first.trim_end_matches('\r').strip_prefix("sep=")? {
        ";" => b';',
        "," => b',',
        "\t" => b'\t',
        _ => return None,
    };
    Some((separator, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolon_exports_with_french_headers_and_a_bom_are_read() {
        let csv = "\u{feff}Nom;Prénom;Courriel;N° étudiant;Profession\nMartin;Zoé;zoe@univ.fr;E123;etudiant\n\nDurand;Léo;leo@univ.fr;;\n";
        let rows = read_csv(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[0].line,
                rows[0].first_name.as_str(),
                rows[0].email.as_str()
            ),
            (2, "Zoé", "zoe@univ.fr")
        );
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[0].student_number, "E123");
    }

    #[test]
    fn comma_exports_are_read_and_a_missing_column_is_named() {
        let rows = read_csv(b"email,last_name,first_name\na@b.fr,A,B\n").unwrap();
        assert_eq!(rows[0].last_name, "A");
        let err = read_csv(b"email;nom\na@b.fr;A\n").unwrap_err();
        assert_eq!(err.errors()[0].field, "csv");
        assert_eq!(
            err.errors()[0].message,
            "colonne « prénom » absente de la première ligne (colonnes lues : « email », « nom »)"
        );
    }

    #[test]
    fn windows_1252_files_from_french_excel_keep_their_accents() {
        // « Hélène;Infirmière;Œuvre » as Excel saves it: é = E9, è = E8, Œ = 8C.
        let bytes = b"Nom;Pr\xe9nom;Courriel;Profession\r\nDupr\xe9;H\xe9l\xe8ne;helene@exemple.fr;Infirmi\xe8re\r\n\x8cuvre;No\xebl;noel@exemple.fr;IDE\r\n";
        let rows = read_csv(bytes).unwrap();
        assert_eq!(
            rows.iter()
                .map(|r| (
                    r.line,
                    r.first_name.as_str(),
                    r.last_name.as_str(),
                    r.profession.as_str()
                ))
                .collect::<Vec<_>>(),
            [
                (2, "Hélène", "Dupré", "Infirmière"),
                (3, "Noël", "Œuvre", "IDE")
            ]
        );
    }

    #[test]
    fn utf8_wins_when_the_bytes_are_valid_utf8_and_a_bom_says_the_encoding() {
        assert_eq!(decode("Hélène".as_bytes()).unwrap(), "Hélène");
        assert_eq!(
            decode(b"\xef\xbb\xbfH\xc3\xa9l\xc3\xa8ne").unwrap(),
            "Hélène"
        );
        // Excel's « Texte Unicode »: UTF-16 little-endian with its mark, tabs between fields.
        let utf16: Vec<u8> = [0xfeff_u16]
            .into_iter()
            .chain("email\tnom\tprénom\nh@e.fr\tDupré\tHélène\n".encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect();
        let rows = read_csv(&utf16).unwrap();
        assert_eq!(
            (rows[0].last_name.as_str(), rows[0].first_name.as_str()),
            ("Dupré", "Hélène")
        );
    }

    #[test]
    fn spreadsheets_and_binary_files_are_refused_with_what_to_do() {
        let xlsx = read_csv(b"PK\x03\x04\x14\x00\x06\x00").unwrap_err();
        assert!(
            xlsx.errors()[0]
                .message
                .contains("CSV (séparateur : point-virgule)"),
            "{:?}",
            xlsx.errors()
        );
        let binary = read_csv(b"email;nom;prenom\n\x00\x01").unwrap_err();
        assert_eq!(
            binary.errors()[0].message,
            "ce fichier n'est pas un fichier texte CSV"
        );
    }

    #[test]
    fn the_separator_is_the_header_lines_not_the_one_inside_quotes() {
        let csv = "Nom;Prénom;Courriel;\"Service, site, étage\"\n\"Martin, née Roy\";Zoé;zoe@univ.fr;\"Urgences, A; B\"\n";
        assert_eq!(delimiter(csv), b';');
        let rows = read_csv(csv.as_bytes()).unwrap();
        assert_eq!(rows[0].last_name, "Martin, née Roy");
        let csv = "email,nom,prenom,\"service;site\"\nz@u.fr,\"Roy; Martin\",Zoé,\"A;B\"\n";
        assert_eq!(delimiter(csv), b',');
        assert_eq!(
            read_csv(csv.as_bytes()).unwrap()[0].last_name,
            "Roy; Martin"
        );
        let declared = read_csv(b"sep=,\nemail,nom,prenom\n\nz@u.fr,Roy,Zo\xc3\xa9\n").unwrap();
        assert_eq!(
            (declared[0].line, declared[0].first_name.as_str()),
            (4, "Zoé")
        );
    }

    #[test]
    fn a_moodle_user_export_is_read_without_its_username_and_profile_fields() {
        let csv = "username,firstname,lastname,email,idnumber,profile_field_service,institution\n\
                   zmartin,Zoé,Martin,zoe.martin@univ.fr,E2026001,\"Cardiologie, bât. B\",IFSI\n";
        let rows = read_csv(csv.as_bytes()).unwrap();
        let r = &rows[0];
        assert_eq!(
            (
                r.email.as_str(),
                r.first_name.as_str(),
                r.last_name.as_str(),
                r.student_number.as_str(),
                r.profession.as_str()
            ),
            ("zoe.martin@univ.fr", "Zoé", "Martin", "E2026001", "")
        );
    }

    #[test]
    fn headers_are_matched_whatever_their_case_accents_and_punctuation() {
        for (header, column) in [
            ("E-mail", Column::Email),
            ("Adresse électronique", Column::Email),
            ("NOM DE FAMILLE", Column::LastName),
            ("Prénom(s)", Column::FirstName),
            ("N° d'étudiant", Column::StudentNumber),
            ("idnumber", Column::StudentNumber),
            ("N° RPPS", Column::Rpps),
            ("Numéro ADELI", Column::Adeli),
            ("Métier", Column::Profession),
        ] {
            assert_eq!(column_of(header), Some(column), "{header}");
        }
        assert_eq!(column_of("username"), None);
        assert_eq!(column_of("profile_field_service"), None);
    }
}

/// An uploaded file is anything: read or refused, never a panic; and what a CSV writer
/// (Excel, LibreOffice, Python) quotes comes back as written.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = read_csv(&bytes);
        }

        #[test]
        fn any_text_is_read_or_refused(text in "(?s).{0,600}") {
            let _ = read_text(&text);
        }

        #[test]
        fn names_with_quotes_and_separators_come_back_as_written(
            people in proptest::collection::vec(
                (
                    "[A-Za-zéÉèçïÀ][A-Za-zéèç ,;'\"-]{0,14}[A-Za-zé]",
                    "[A-Za-zéÉèçïÀ][A-Za-zéèç ,;'\"-]{0,14}[A-Za-zé]",
                    "[a-z]{1,8}@[a-z]{1,8}\\.fr",
                ),
                1..12,
            ),
            semicolon in any::<bool>(),
        ) {
            let mut writer = csv::WriterBuilder::new()
                .delimiter(if semicolon { b';' } else { b',' })
                .from_writer(Vec::new());
            writer.write_record(["Nom", "Prénom", "Courriel"]).unwrap();
            for (last, first, email) in &people {
                writer.write_record([last, first, email]).unwrap();
            }
            let bytes = writer.into_inner().unwrap();
            let rows = read_csv(&bytes).unwrap();
            let read: Vec<(&str, &str, &str)> = rows
                .iter()
                .map(|r| (r.last_name.as_str(), r.first_name.as_str(), r.email.as_str()))
                .collect();
            let written: Vec<(&str, &str, &str)> = people
                .iter()
                .map(|(l, f, e)| (l.as_str(), f.as_str(), e.as_str()))
                .collect();
            prop_assert_eq!(read, written);
        }
    }
}
