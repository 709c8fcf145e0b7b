//! Photos made in memory: EXIF written by hand, 16-bit and CMYK sources, a
//! decompression bomb's header.

use std::collections::BTreeMap;

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
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
        out
    }
    let mut ihdr = 50_000u32.to_be_bytes().to_vec();
    ihdr.extend(50_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
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

#[test]
fn the_cache_serves_a_second_build_and_keys_follow_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let files = BTreeMap::from([
        ("images/a.jpg".to_owned(), landscape_jpeg()),
        ("images/logo.svg".to_owned(), b"<svg/>".to_vec()),
    ]);
    let first = process_all(&files, Some(&cache)).unwrap();
    assert_eq!((first.encoded, first.cached), (1, 0));
    assert_eq!(first.sets.len(), 1, "SVGs are left as they are");
    let second = process_all(&files, Some(&cache)).unwrap();
    assert_eq!((second.encoded, second.cached), (0, 1));
    assert_eq!(first.sets, second.sets);
    assert_eq!(first.files, second.files);
    // The same photo under another name: the same variants, a set of its own.
    let renamed = BTreeMap::from([("images/b.jpg".to_owned(), landscape_jpeg())]);
    let third = process_all(&renamed, Some(&cache)).unwrap();
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
    // All errors at once.
    let bad = BTreeMap::from([
        ("images/x.jpg".to_owned(), b"nope".to_vec()),
        ("images/y.png".to_owned(), b"nope".to_vec()),
    ]);
    assert_eq!(process_all(&bad, None).unwrap_err().len(), 2);
}
