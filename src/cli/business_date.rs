//! `unyo business-date`: the business date of now, `YYYY-MM-DD`, in the configured time zone
//! with `day_start` applied: the date unyo gives a run started now (`business_date`,
//! `UNYO_BUSINESS_DATE`), so shell lines name files the way jobs do, whatever the machine's
//! own zone: `cat var/reports/disk-$(unyo business-date).txt`.

use crate::error::Error;
use crate::model::Settings;

pub fn run(settings: &Settings) -> Result<(), Error> {
    let (date, _) = crate::engine::dates(settings, chrono::Utc::now());
    super::out(&format!("{date}\n"));
    Ok(())
}
