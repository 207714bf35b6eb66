use super::*;

#[test]
fn timestamps_are_formatted_as_the_store_formats_them() {
    let mut rng = Rng::new(7);
    for _ in 0..2_000 {
        let t = rng.range(0, 4_102_444_800) * SEC + rng.range(0, 999_999);
        assert_eq!(ts(t), crate::store::sqlite::ts(utc(t)));
    }
}
