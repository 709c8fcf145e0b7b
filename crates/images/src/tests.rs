//! Photos made in memory: EXIF written by hand, 16-bit and CMYK sources, a
//! decompression bomb's header.

use image::{ImageBuffer, ImageDecoder, Rgb, RgbImage, Rgba};

use super::*;

/// A 40×20 JPEG: left half red, right half blue.
fn landscape_jpeg() -> Vec<u8> {
    let img = RgbImage::from_fn(40, 20, |x, _| {
        if x < 20 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode(img.as_raw(), 40, 20, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// An APP1 Exif segment: Orientation = 6 (rotate 90° clockwise) and a GPS
/// IFD with a latitude reference, as a phone writes.
fn exif_app1() -> Vec<u8> {
    let mut tiff = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
    // IFD0 at 8: two entries, then the next-IFD offset.
    tiff.extend(2u16.to_le_bytes());
    tiff.extend([0x12, 0x01, 3, 0]); // Orientation, SHORT
    tiff.extend(1u32.to_le_bytes());
    tiff.extend([6, 0, 0, 0]);
    tiff.extend([0x25, 0x88, 4, 0]); // GPSInfo, LONG
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(38u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    // The GPS IFD at 38: GPSLatitudeRef "N".
    tiff.extend(1u16.to_le_bytes());
    tiff.extend([0x01, 0x00, 2, 0]);
    tiff.extend(2u32.to_le_bytes());
    tiff.extend([b'N', 0, 0, 0]);
    tiff.extend(0u32.to_le_bytes());
    let mut segment = vec![0xFF, 0xE1];
    segment.extend(u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
    segment.extend(b"Exif\0\0");
    segment.extend(tiff);
    segment
}

fn with_exif(jpeg: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], [0xFF, 0xD8]);
    let mut out = jpeg[..2].to_vec();
    out.extend(exif_app1());
    out.extend(&jpeg[2..]);
    out
}

fn decoded(bytes: &[u8]) -> image::DynamicImage {
    image::load_from_memory(bytes).unwrap()
}

fn file<'a>(output: &'a Output, key: &str) -> &'a [u8] {
    &output.files.iter().find(|(k, _)| k == key).unwrap().1
}

#[test]
fn a_portrait_photo_with_orientation_6_comes_out_upright() {
    let source = with_exif(&landscape_jpeg());
    // The decoder sees the tag (the test's EXIF is well-formed).
    let mut decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&source)).unwrap();
    assert_eq!(
        decoder.orientation().unwrap(),
        image::metadata::Orientation::Rotate90
    );

    let output = process("images/phone.jpg", &source).unwrap();
    assert_eq!(
        (output.set.width, output.set.height),
        (20, 40),
        "upright: portrait"
    );
    for variant in output.set.modern.iter().chain(&output.set.fallback) {
        let img = decoded(file(&output, &variant.key)).into_rgb8();
        assert_eq!((img.width(), img.height()), (variant.width, variant.height));
        assert!(img.height() > img.width(), "{}", variant.key);
        // The left (red) half of the landscape source is now the top.
        let top = img.get_pixel(img.width() / 2, 2).0;
        let bottom = img.get_pixel(img.width() / 2, img.height() - 3).0;
        assert!(top[0] > 200 && top[2] < 60, "top is red: {top:?}");
        assert!(
            bottom[2] > 200 && bottom[0] < 60,
            "bottom is blue: {bottom:?}"
        );
    }
}

#[test]
fn no_variant_carries_exif_or_gps() {
    let source = with_exif(&landscape_jpeg());
    assert!(source.windows(4).any(|w| w == b"Exif"));
    let output = process("images/phone.jpg", &source).unwrap();
    assert!(!output.files.is_empty());
    for (key, bytes) in &output.files {
        assert!(!bytes.windows(4).any(|w| w == b"Exif"), "{key} has EXIF");
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .unwrap();
        let mut decoder = reader.into_decoder().unwrap();
        assert_eq!(decoder.exif_metadata().unwrap(), None, "{key}");
    }
}

#[test]
fn a_16_bit_png_is_handled() {
    let img: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_fn(700, 350, |x, y| {
        Rgb([(x * 90) as u16, (y * 180) as u16, 40_000])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb16(img)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let output = process("images/deep.png", &png).unwrap();
    assert_eq!((output.set.width, output.set.height), (700, 350));
    assert_eq!(
        output.set.fallback[0].format,
        Format::Jpeg,
        "opaque: a JPEG fallback"
    );
    let first = decoded(file(&output, &output.set.fallback[0].key));
    assert_eq!(first.color(), image::ColorType::Rgb8);
}

#[test]
fn a_cmyk_jpeg_is_converted_to_rgb() {
    // Pure cyan in CMYK (inverted, as Adobe writes it): C=255, M=Y=K=0.
    let (w, h) = (64u16, 32u16);
    let cmyk: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|_| [255u8, 0, 0, 0])
        .collect();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 95)
        .encode(&cmyk, w, h, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    match process("images/print.jpg", &jpeg) {
        Ok(output) => {
            let img = decoded(file(&output, &output.set.fallback[0].key)).into_rgb8();
            let p = img.get_pixel(10, 10).0;
            assert!(p[0] < 80 && p[1] > 150 && p[2] > 150, "cyan, not {p:?}");
        }
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("images/print.jpg"), "{text}");
        }
    }
}

/// A PNG whose header says 50,000 × 50,000 pixels (7.5 GB decoded) in a few
/// bytes: refused from the header, before any allocation.
#[test]
fn a_decompression_bomb_is_refused() {
    let png = testkit::images::bomb_png();
    assert!(png.len() < 100);
    let err = process("images/bomb.png", &png).unwrap_err();
    assert!(matches!(err, ImageError::TooLarge { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("images/bomb.png") && text.contains("50000×50000"),
        "{text}"
    );
}

#[test]
fn corrupt_and_truncated_images_are_refused_clearly() {
    let jpeg = landscape_jpeg();
    for cut in [jpeg.len() / 2, jpeg.len() - 2] {
        let err = process("images/cut.jpg", &jpeg[..cut]).unwrap_err();
        assert!(err.to_string().starts_with("images/cut.jpg: "), "{err}");
    }
    let err = process("images/noise.jpg", b"this is not an image at all").unwrap_err();
    assert!(matches!(err, ImageError::Unreadable { .. }), "{err:?}");
}

#[test]
fn variant_widths_never_exceed_the_source() {
    assert_eq!(variant_widths(100), [100]);
    assert_eq!(variant_widths(320), [320]);
    assert_eq!(variant_widths(700), [320, 640, 700]);
    assert_eq!(variant_widths(1920), [320, 640, 960, 1280, 1920]);
    assert_eq!(variant_widths(4000), [320, 640, 960, 1280, 1920]);

    let img = RgbImage::from_fn(700, 350, |x, y| Rgb([x as u8, y as u8, 90]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode(img.as_raw(), 700, 350, image::ExtendedColorType::Rgb8)
        .unwrap();
    let output = process("images/mid.jpg", &jpeg).unwrap();
    let widths: Vec<u32> = output.set.modern.iter().map(|v| v.width).collect();
    assert_eq!(widths, [320, 640, 700]);
    assert!(output.set.fallback.iter().all(|v| v.width <= 700));
    assert_eq!(
        ImageSet::srcset(&output.set.modern).matches("w,").count(),
        2
    );
    assert_eq!((output.set.og.width, output.set.og.height), OG_SIZE);
    let og = decoded(file(&output, &output.set.og.key));
    assert_eq!((og.width(), og.height()), OG_SIZE);
}

#[test]
fn transparency_is_kept_with_a_png_fallback() {
    let img = ImageBuffer::from_fn(400, 400, |x, _| {
        Rgba([0, 128, 0, if x < 200 { 0 } else { 255 }])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let output = process("images/cutout.png", &png).unwrap();
    assert!(output.set.fallback.iter().all(|v| v.format == Format::Png));
    let fallback = decoded(file(&output, &output.set.fallback[0].key)).into_rgba8();
    assert_eq!(fallback.get_pixel(5, 5).0[3], 0, "still transparent");
    let webp = decoded(file(&output, &output.set.modern[0].key)).into_rgba8();
    assert!(webp.get_pixel(5, 5).0[3] < 10);
}

fn bytes_source(key: &str, bytes: Vec<u8>) -> Source {
    Source {
        key: key.to_owned(),
        digest: None,
        origin: Origin::Bytes(bytes),
    }
}

fn path_source(key: &str, path: &Path) -> Source {
    Source {
        key: key.to_owned(),
        digest: None,
        origin: Origin::Path(path.to_owned()),
    }
}

/// The bytes of a variant, wherever they are.
fn data_bytes(data: &Data) -> Vec<u8> {
    match data {
        Data::Memory(b) => b.clone(),
        Data::File { path, .. } => std::fs::read(path).unwrap(),
    }
}

/// A photo file whose modification time is an hour ago (settled, so the
/// index records it).
fn settled_photo(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    set_mtime(
        &path,
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    path
}

fn set_mtime(path: &Path, to: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(to)
        .unwrap();
}

/// A JPEG of the same size in pixels as `landscape_jpeg`, with other pixels.
fn other_jpeg() -> Vec<u8> {
    let img = RgbImage::from_fn(40, 20, |_, y| Rgb([0, (y * 10) as u8, 0]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode(img.as_raw(), 40, 20, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

#[test]
fn the_cache_serves_a_second_build_and_keys_follow_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let sources = || vec![bytes_source("images/a.jpg", landscape_jpeg())];
    let first = process_all(sources(), Some(&cache)).unwrap();
    assert_eq!((first.encoded, first.cached), (1, 0));
    let second = process_all(sources(), Some(&cache)).unwrap();
    assert_eq!((second.encoded, second.cached), (0, 1));
    assert_eq!(first.sets, second.sets);
    assert_eq!(first.files, second.files);
    // Hits are files of the entry, with the size and digest they were written with.
    for data in second.files.values() {
        let Data::File {
            path, len, sha256, ..
        } = data
        else {
            panic!("a cache hit is not read into memory: {data:?}");
        };
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(bytes.len() as u64, *len);
        assert_eq!(&digest(&bytes), sha256);
    }
    // The same photo under another name: the same variants, a set of its own.
    let third = process_all(
        vec![bytes_source("images/b.jpg", landscape_jpeg())],
        Some(&cache),
    )
    .unwrap();
    assert_eq!(third.cached, 1);
    assert_eq!(third.sets["images/b.jpg"].source, "images/b.jpg");
    let b_key = &third.sets["images/b.jpg"].modern[0].key;
    assert!(
        b_key.starts_with("images/v/b-"),
        "named for its own source: {b_key}"
    );
    assert!(third.files.contains_key(b_key));
    // Keys carry the content's digest and the policy.
    let key = &first.sets["images/a.jpg"].modern[0].key;
    assert!(
        key.starts_with("images/v/a-") && key.contains(POLICY),
        "{key}"
    );
    // Without a cache, variants are in memory and equal to the cached ones.
    let uncached = process_all(sources(), None).unwrap();
    for (key, data) in &uncached.files {
        assert!(matches!(data, Data::Memory(_)));
        assert_eq!(data_bytes(data), data_bytes(&second.files[key]), "{key}");
    }
    // All errors at once.
    let bad = vec![
        bytes_source("images/x.jpg", b"nope".to_vec()),
        bytes_source("images/y.png", b"nope".to_vec()),
    ];
    assert_eq!(process_all(bad, None).unwrap_err().len(), 2);
}

#[test]
fn an_entry_written_before_files_were_recorded_is_read_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let first = process_all(
        vec![bytes_source("images/a.jpg", landscape_jpeg())],
        Some(&cache),
    )
    .unwrap();
    // Rewrite set.json as an earlier version wrote it: the bare set.
    let entry = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("set.json").is_file())
        .unwrap();
    let set = &first.sets["images/a.jpg"];
    std::fs::write(entry.join("set.json"), serde_json::to_vec(set).unwrap()).unwrap();
    let again = process_all(
        vec![bytes_source("images/a.jpg", landscape_jpeg())],
        Some(&cache),
    )
    .unwrap();
    assert_eq!(again.cached, 1);
    for (key, data) in &again.files {
        assert!(matches!(data, Data::Memory(_)), "{key}");
        assert_eq!(data_bytes(data), data_bytes(&first.files[key]), "{key}");
    }
}

#[test]
fn an_indexed_file_is_not_read_again_while_its_size_and_time_match() {
    let photos = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let a = landscape_jpeg();
    let path = settled_photo(photos.path(), "a.jpg", &a);
    let first = process_all(vec![path_source("images/a.jpg", &path)], Some(&cache)).unwrap();
    assert_eq!(first.encoded, 1);
    assert!(dir.path().join("index.json").is_file());
    let old_key = first.sets["images/a.jpg"].modern[0].key.clone();
    assert!(old_key.contains(&digest(&a)[..16]));

    // Other bytes of the same size, with the old modification time: the
    // index says nothing changed, so the file is not read (had it been,
    // its new digest would name new variants).
    let mut b = other_jpeg();
    b.resize(a.len().max(b.len()), 0);
    let mut a_padded = a.clone();
    a_padded.resize(b.len(), 0);
    assert_ne!(digest(&a_padded), digest(&b));
    let path = settled_photo(photos.path(), "a.jpg", &a_padded);
    let padded = process_all(vec![path_source("images/a.jpg", &path)], Some(&cache)).unwrap();
    let indexed_key = padded.sets["images/a.jpg"].modern[0].key.clone();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, &b).unwrap();
    set_mtime(&path, mtime);
    let second = process_all(vec![path_source("images/a.jpg", &path)], Some(&cache)).unwrap();
    assert_eq!((second.encoded, second.cached), (0, 1));
    assert_eq!(
        second.sets["images/a.jpg"].modern[0].key, indexed_key,
        "the digest came from the index"
    );

    // A new modification time: read and hashed again.
    set_mtime(&path, mtime - std::time::Duration::from_secs(60));
    let third = process_all(vec![path_source("images/a.jpg", &path)], Some(&cache)).unwrap();
    assert_eq!(third.encoded, 1);
    assert!(
        third.sets["images/a.jpg"].modern[0]
            .key
            .contains(&digest(&b)[..16])
    );
}

#[test]
fn a_corrupt_or_missing_index_rehashes() {
    let photos = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let path = settled_photo(photos.path(), "a.jpg", &landscape_jpeg());
    let run = || process_all(vec![path_source("images/a.jpg", &path)], Some(&cache)).unwrap();
    let first = run();
    let index = dir.path().join("index.json");
    for broken in [&b"{\"version\": 1, \"files\": {"[..], b"\x00\xff", b"[]"] {
        std::fs::write(&index, broken).unwrap();
        let again = run();
        assert_eq!(again.cached, 1, "rehashed, and found in the cache");
        assert_eq!(first.sets, again.sets);
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&index).unwrap()).unwrap();
        assert_eq!(
            written["files"].as_object().unwrap().len(),
            1,
            "written anew"
        );
    }
    std::fs::remove_file(&index).unwrap();
    assert_eq!(run().sets, first.sets);
    // The cache deleted whole: encoded again.
    std::fs::remove_dir_all(dir.path()).unwrap();
    assert_eq!(run().encoded, 1);
}

#[test]
fn a_file_just_written_is_not_indexed() {
    let photos = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let path = photos.path().join("a.jpg");
    std::fs::write(&path, landscape_jpeg()).unwrap();
    process_all(vec![path_source("images/a.jpg", &path)], Some(&cache)).unwrap();
    assert!(!dir.path().join("index.json").exists());
}

#[test]
fn a_known_digest_is_used_and_a_cached_upload_needs_no_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let bytes = landscape_jpeg();
    let sha = digest(&bytes);
    let upload = |origin| Source {
        key: format!("images/{sha}.jpg"),
        digest: Some(sha.clone()),
        origin,
    };
    assert!(upload(Origin::NotFetched).must_fetch(Some(&cache)));
    assert!(upload(Origin::NotFetched).must_fetch(None));
    assert!(!upload(Origin::Bytes(bytes.clone())).must_fetch(Some(&cache)));
    let first = process_all(vec![upload(Origin::Bytes(bytes.clone()))], Some(&cache)).unwrap();
    assert_eq!(first.encoded, 1);
    assert!(!upload(Origin::NotFetched).must_fetch(Some(&cache)));
    let second = process_all(vec![upload(Origin::NotFetched)], Some(&cache)).unwrap();
    assert_eq!(second.cached, 1);
    assert_eq!(first.sets, second.sets);
    // The given digest names the variants: it is not recomputed.
    let wrong = "0".repeat(64);
    let named = process_all(
        vec![Source {
            key: "images/x.jpg".into(),
            digest: Some(wrong.clone()),
            origin: Origin::Bytes(bytes),
        }],
        None,
    )
    .unwrap();
    assert!(named.sets["images/x.jpg"].og.key.contains(&wrong[..16]));
    // Gone from the cache and not fetched: a clear error.
    std::fs::remove_dir_all(dir.path()).unwrap();
    let err = process_all(vec![upload(Origin::NotFetched)], Some(&cache)).unwrap_err();
    assert!(matches!(err[0], ImageError::NotFetched { .. }), "{err:?}");
}

#[test]
fn a_missing_source_file_names_its_path() {
    let err = process_all(
        vec![path_source("images/a.jpg", Path::new("/nonexistent/a.jpg"))],
        None,
    )
    .unwrap_err();
    let message = err[0].to_string();
    assert!(message.contains("/nonexistent/a.jpg"), "{message}");
}

#[test]
fn an_entry_that_cannot_be_read_is_fetched_and_stored_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let bytes = landscape_jpeg();
    let digest = crate::digest(&bytes);
    let upload = |origin| Source {
        key: "images/up.jpg".into(),
        digest: Some(digest.clone()),
        origin,
    };
    process_all(vec![upload(Origin::Bytes(bytes.clone()))], Some(&cache)).unwrap();
    assert!(!upload(Origin::NotFetched).must_fetch(Some(&cache)));
    // An earlier layout's entry: its set.json names files that are not there.
    let entry = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("set.json").is_file())
        .unwrap();
    for file in std::fs::read_dir(&entry).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e != "json") {
            std::fs::rename(
                &path,
                entry.join(format!("old-{}", path.file_name().unwrap().display())),
            )
            .unwrap();
        }
    }
    assert!(
        upload(Origin::NotFetched).must_fetch(Some(&cache)),
        "a broken entry is not a hit"
    );
    let again = process_all(vec![upload(Origin::Bytes(bytes))], Some(&cache)).unwrap();
    assert_eq!(again.cached, 0);
    assert!(
        !upload(Origin::NotFetched).must_fetch(Some(&cache)),
        "stored again"
    );
    assert!(process_all(vec![upload(Origin::NotFetched)], Some(&cache)).is_ok());
}
